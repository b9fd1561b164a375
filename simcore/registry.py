"""Workflow code by name: the course's own, or any that a learner names as MODULE:NAME.

A history names its workflow type (WorkflowExecutionStarted.workflow_type); to replay or check it,
the engine needs the code registered under that name, as a Temporal worker registers its workflows.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from .workflow import ActivityDef, WorkflowDef


class RegistryError(ValueError):
    """A workflow that cannot be found: says which and what to write instead."""


def course() -> dict[str, WorkflowDef]:
    """What a real-process home runs and checks by default."""
    from . import orders
    return {w.name: w for w in (orders.fulfill_order, orders.fulfill_and_review)}


def load(spec: str) -> WorkflowDef:
    """`simcore.orders:fulfill_order` -> that @workflow."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise RegistryError(f"--workflow takes MODULE:NAME (e.g. simcore.orders:fulfill_order), got {spec!r}")
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError as e:
        raise RegistryError(f"--workflow {spec}: cannot import {module!r} ({e})") from None
    except SyntaxError as e:
        raise RegistryError(f"--workflow {spec}: {e.filename}, line {e.lineno}: {e.msg}; fix the module "
                            "and run the command again") from None
    except (Exception, SystemExit) as e:   # the module's own code failed while it was imported
        raise RegistryError(f"--workflow {spec}: importing {module!r} failed: {type(e).__name__}: {e} "
                            f"({_where(e) or module}); fix the module and run the command again") from None
    if not isinstance(found, WorkflowDef):
        what = "no such name" if found is None else f"a {type(found).__name__}, not a @workflow"
        raise RegistryError(f"--workflow {spec}: {module}.{name} is {what}")
    return found


def check_inputs(workflow: WorkflowDef, inputs: list) -> None:
    """Refuse, before anything is recorded, an input the workflow's code cannot take: a run started
    with it would fail at once, and its id would be used up."""
    try:
        workflow.check_inputs(inputs)
    except TypeError as e:
        raise RegistryError(f"--input: {e}; nothing was recorded") from None


def _where(e: BaseException) -> str:
    """Where the module's own code failed: the innermost frame outside the engine and importlib."""
    engine, found, tb = str(Path(__file__).parent), "", e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith((engine, "<frozen")):
            found = f"{name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def workflows(specs: list[str] | None) -> dict[str, WorkflowDef]:
    """The code to replay against, by workflow type: the named ones, else the course's."""
    if not specs:
        return course()
    found: dict[str, WorkflowDef] = {}
    for spec in specs:
        w = load(spec)
        if w.name in found and found[w.name] is not w:
            raise RegistryError(f"--workflow {spec}: another --workflow is also registered as {w.name!r}; "
                                "a worker runs one code per workflow type: replay them in separate runs")
        found[w.name] = w
    return found


def activities_of(workflow: WorkflowDef) -> tuple[ActivityDef, ...]:
    """The activities defined in the workflow's own module: what a worker for it registers (beside the
    course's own)."""
    module = importlib.import_module(workflow.fn.__module__)
    return tuple(v for v in vars(module).values() if isinstance(v, ActivityDef))
