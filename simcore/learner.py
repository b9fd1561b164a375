"""The learner's code, as the playground takes it: declared with decorators that refuse bad code at the
learner's line (a `PlaygroundError`, printed without the engine's frames), the playground's three
arguments checked, and the line an error passed through found again (`simcore.playground` runs it)."""
from __future__ import annotations

import inspect
import linecache

from .codec import is_json, merged_keys
from .workflow import ActivityDef, WorkflowDef, activity as _activity, workflow as _workflow


class PlaygroundError(Exception):
    """The learner's code cannot run: the message names their line. IPython prints only the message
    (`_render_traceback_`), never the engine's frames the error passed through."""

    def _render_traceback_(self):
        return [f"PlaygroundError: {self}"]


def where(code, lineno: int | None = None) -> str:
    """'line 4 of your cell: `text`' for a line of the learner's code (a def line by default)."""
    file = code.co_filename
    if not lineno:   # the def line, past any decorators
        lineno = code.co_firstlineno
        while linecache.getline(file, lineno).lstrip().startswith("@"):
            lineno += 1
    place = "your cell" if "ipykernel" in file or file.startswith("<") else file.rsplit("/", 1)[-1]
    text = linecache.getline(file, lineno).strip()
    return f"line {lineno} of {place}" + (f": `{text}`" if text else "")


def _declared(declare, f):
    """`declare(f)`, the engine's refusal of bad code (a TypeError) said as a PlaygroundError at the line."""
    try:
        return declare(f)
    except TypeError as err:
        raise PlaygroundError(f"{err} ({where(f.__code__)})") from None


def as_workflow(fn) -> WorkflowDef:
    """`fn` as a workflow, declared here if the learner did not: the engine's refusal, at their line."""
    return fn if isinstance(fn, WorkflowDef) else _declared(_workflow, fn)


def as_activity(fn) -> ActivityDef:
    return fn if isinstance(fn, ActivityDef) else _declared(_activity, fn)


def workflow(fn=None, **kw):
    """`@workflow` that refuses bad code with a PlaygroundError naming the line."""
    def wrap(f):
        return _declared(lambda g: _workflow(g, **kw), f)
    return wrap(fn) if fn else wrap


def activity(name=None, **kw):
    """`@activity` that refuses bad code with a PlaygroundError naming the line."""
    def wrap(f):
        return _declared(lambda g: _activity(g) if callable(name) else _activity(name, **kw)(g), f)
    return wrap(name) if callable(name) else wrap


def checked(workflow_fn, activities, args) -> tuple[WorkflowDef, list[ActivityDef], list]:
    """The playground's three arguments, declared; or a PlaygroundError saying which is wrong and how to write it."""
    if not (isinstance(workflow_fn, WorkflowDef) or inspect.isfunction(workflow_fn)):
        what = f"{workflow_fn.name} is an @activity" if isinstance(workflow_fn, ActivityDef) else \
            f"{workflow_fn!r:.60} is not a workflow"
        raise PlaygroundError(f"{what}; the first argument is the @workflow")
    wf = as_workflow(workflow_fn)
    if not isinstance(activities, (list, tuple)):   # the example: the activities the workflow's code names
        named = [n for n in wf.fn.__code__.co_names if isinstance(wf.fn.__globals__.get(n), ActivityDef)]
        example = activities.fn.__name__ if isinstance(activities, ActivityDef) else ", ".join(named) or "my_activity"
        raise PlaygroundError(f"activities must be a list of @activity functions, e.g. [{example}]")
    acts = {}
    for i, a in enumerate(activities):
        if not (isinstance(a, ActivityDef) or inspect.isfunction(a)):
            what = f"the @workflow {a.name}" if isinstance(a, WorkflowDef) else repr(a)[:60]
            raise PlaygroundError(f"activities[{i}] is {what}, not an @activity function")
        a = as_activity(a)
        if acts.setdefault(a.name, a).fn is not a.fn:   # the engine's table would keep the last one, silently
            raise PlaygroundError(f"two activities are named {a.name!r} ({acts[a.name].fn.__name__} and "
                                  f"{a.fn.__name__}): give each its own name")
    if not isinstance(args, (list, tuple)):
        raise PlaygroundError(f"args must be a list (or tuple) of the workflow's inputs, e.g. "
                              f"{[args] if args is not None else []!r}")
    if not is_json(args := list(args)):
        raise PlaygroundError(f"the workflow's inputs {args!r} must be JSON: the history records them")
    try:
        wf.check_inputs(args)
    except TypeError as err:
        raise PlaygroundError(f"args: {err}") from None
    return wf, list(acts.values()), args


def frames(err: BaseException):
    """Every (frame, line) `err` passed through, outermost first, and then its cause's: SimPy re-raises
    a process's error as a copy whose cause is the original."""
    while err is not None:
        tb = err.__traceback__
        while tb:
            yield tb.tb_frame, tb.tb_lineno
            tb = tb.tb_next
        err = err.__cause__


def why_not_json(value) -> str:
    return merged_keys(value) or "the history records it as JSON; return a dict, list, str, number, bool or None"
