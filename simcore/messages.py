"""Messages to a running workflow from outside: signals, a cancel request, updates and queries (a part
of `simcore.engine.Engine`, which holds their state). A signal and a cancel are recorded at once, even
while every worker is down; an update and a query need a worker, which runs the workflow's handler.
"""
from __future__ import annotations

from . import events as ev
from .replay import Machine
from .service import QueryFailed, UpdateRejected, WorkflowClosed


class Messages:
    """The engine's message side (a part of `simcore.engine.Engine`, which holds its state)."""

    def signal(self, wid: str, name: str, input=None, request_id: str = "") -> bool:
        """Record a signal at once, even while every worker is down, and wake the workflow. Two sends are
        two signals; a retried send with the same request id is dropped (False). A closed workflow
        refuses it: WorkflowClosed."""
        self._refuse_if_closed(wid, f"signal {name!r}")
        if request_id:
            seen = self.signal_requests.setdefault(wid, set())
            if request_id in seen:
                return False
            seen.add(request_id)
        self.incident("signal", f"signal {name!r} to {wid}: recorded (WorkflowExecutionSignaled)")
        self._deliver(wid, [ev.WorkflowExecutionSignaled(0, self.env.now, name, input, request_id)])
        return True

    def cancel(self, wid: str, identity: str = "") -> None:
        """Ask the workflow to stop: a request, recorded; its code decides what it means."""
        self._refuse_if_closed(wid, "cancel request")
        self.incident("cancel", f"cancel requested for {wid}: recorded (WorkflowExecutionCancelRequested)")
        self._deliver(wid, [ev.WorkflowExecutionCancelRequested(0, self.env.now, identity)])

    def _refuse_if_closed(self, wid: str, what: str) -> None:
        if wid in self.closed:
            raise WorkflowClosed(f"{wid}: workflow execution already completed; the {what} is refused")
        if not self._length(wid):
            raise WorkflowClosed(f"{wid}: no such workflow; the {what} is refused")

    def _worker_state(self, wid: str, what: str) -> Machine:
        """The workflow as a worker holds it: the cached one's, or one replayed from line one by a worker
        that does not hold it; with no worker up, nothing can answer, as on Temporal ("no poller seen")."""
        up = [w for w in self.workers.values() if w.status not in ("dead", "deploying")]
        if not up:
            raise QueryFailed(f"{what} to {wid}: no poller seen for task queue recently, worker may be down "
                              "(it needs a worker: a worker runs the workflow's handler)")
        run, history = self.run_of(wid), self._read(wid)   # (a worker may hold a run that continued as new)
        answered = max((e.event_id for e in history if type(e) is ev.WorkflowTaskCompleted), default=0)
        m = next((w.cache[wid] for w in up if wid in w.cache and w.cache[wid].run == run
                  and w.cache[wid].length >= answered), None)   # a cache behind the last task is stale
        if m is None:
            m = Machine(self.workflows[history[0].workflow_type], wid, epoch=self.sim.epoch).feed(history)
            self.query_replays += 1
        return m

    def update(self, wid: str, name: str, *args) -> str:
        """Ask the workflow to change: its validator runs first, on a worker, and a rejection writes
        nothing (UpdateRejected). Accepted, it runs in the next workflow task, which records
        WorkflowExecutionUpdateAccepted and -Completed; `update_result(id)` has the outcome then."""
        self._refuse_if_closed(wid, f"update {name!r}")
        entry = self._worker_state(wid, f"update {name!r}").ctx.updates.get(name)
        if entry is None:
            raise UpdateRejected(f"{wid} has no update handler {name!r}")
        if entry[1] is not None:
            try:
                entry[1](*args)
            except Exception as err:
                raise UpdateRejected(f"update {name!r} rejected by its validator: {err}") from None
        update_id = f"{wid}/update-{sum(map(len, self.update_requests.values())) + len(self.update_results) + 1}"
        self.update_requests.setdefault(wid, []).append((update_id, name, list(args)))
        if wid not in self.workflow_task:
            self._schedule_workflow_task(wid, [], sticky=self._holder(wid))
        return update_id

    def _updates_left(self, wid: str) -> None:
        """After a workflow task: updates accepted while it ran get a task of their own; if the workflow
        closed first, each fails instead of waiting for ever."""
        left = self.update_requests.get(wid)
        if left and wid in self.closed:
            for update_id, name, _ in self.update_requests.pop(wid):
                self.update_results[update_id] = (None, f"the workflow closed before update {name!r} ran")
        elif left and wid not in self.workflow_task:
            self._schedule_workflow_task(wid, [], sticky=self._holder(wid))

    def update_result(self, update_id: str):
        """The accepted update's result once its workflow task recorded it (None before); its handler's
        error raised as UpdateRejected."""
        result, error = self.update_results.get(update_id, (None, ""))
        if error:
            raise UpdateRejected(f"{update_id} failed: {error}")
        return result

    def query(self, wid: str, name: str, *args):
        """Read the workflow's state through a worker, writing nothing. The worker that holds the
        workflow answers from its cache; any other replays the history to answer; with no worker up,
        the query fails, as Temporal's does ("no poller seen for task queue recently")."""
        m = self._worker_state(wid, f"query {name!r}")
        handler = m.ctx.queries.get(name)
        if handler is None:
            known = ", ".join(m.ctx.queries) or "none"
            raise QueryFailed(f"{wid} has no query handler {name!r} (it has: {known})")
        return handler(*args)
