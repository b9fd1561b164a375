"""Workflow code by name: the course's own, or any that a learner names as MODULE:NAME.

A history names its workflow type (WorkflowExecutionStarted.workflow_type); to replay or check it,
the engine needs the code registered under that name, as a Temporal worker registers its workflows.
"""
from __future__ import annotations

import importlib

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
    if not isinstance(found, WorkflowDef):
        what = "no such name" if found is None else f"a {type(found).__name__}, not a @workflow"
        raise RegistryError(f"--workflow {spec}: {module}.{name} is {what}")
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
