"""An engine that starts on a history store someone else wrote: a real process after `kill -9`.

A Temporal server that restarts loads what it needs from its database; nothing is lost because
nothing lived only in memory. `resume()` does the same from the history store alone: every workflow
whose current run has not closed is picked up where its history stops.

- a workflow task that was scheduled is queued again; one that a dead process had started is timed
  out first (WorkflowTaskTimedOut, START_TO_CLOSE) and retried transiently, as when a lease runs out;
- an activity scheduled with no result runs again (its idempotency key makes that safe). The attempt
  counts from 1 again: the attempts a dead process made were never on record (Temporal keeps them in
  its mutable state, and would say attempt 2);
- a timer that has not fired is armed again at its time, firing at once if that time has passed;
- a run that continued as new, killed before its next run was written, starts that run (the two are
  two commits here, where a Temporal server writes both in one persistence transaction);
- the request ids of recorded signals are remembered, so a retried send is still dropped.
"""
from __future__ import annotations

from . import events as ev
from .history import latest_run
from .retry import ActivityOptions
from .taskqueue import Task

ANSWERS = (ev.ActivityTaskCompleted, ev.ActivityTaskFailed, ev.ActivityTaskTimedOut)


class Recovery:
    """The engine's recovery (a part of `simcore.engine.Engine`, which holds its state)."""

    def rearm(self, workflow_ids=None) -> int:
        """Rebuild the timer queue from the history store alone (for every workflow, or those of
        `workflow_ids`): every TimerStarted that no TimerFired (or TimerCanceled) answers. Returns how
        many it armed."""
        current = [(wid, run) for wid, run in self.sim.history.workflows()   # (an older run continued as new: closed)
                   if run == self.run_of(wid) and (workflow_ids is None or wid in workflow_ids)]
        return sum(self._arm_unfired(wid, self.sim.history.read(wid, run)) for wid, run in current)

    def resume(self, workflow_ids=None) -> list[str]:
        """Pick up every open workflow in the store (or those of `workflow_ids`); returns their ids."""
        runs: dict[str, list] = {}
        for wid, run in self.sim.history.workflows():
            if workflow_ids is None or wid in workflow_ids:
                runs.setdefault(wid, []).append(run)
        picked = []
        for wid in sorted(runs):
            self.current_run[wid] = latest_run(runs[wid])
            events = self._read(wid)
            if events and isinstance(events[-1], ev.WorkflowExecutionContinuedAsNew):
                self._continue(wid, events[-1])   # a kill between the run's end and the next run's start
                picked.append(wid)
                continue
            if not events or events[-1].type in ev.CLOSING:
                self.closed.add(wid)
                continue
            picked.append(wid)
            self.signal_requests[wid] = {e.request_id for e in events
                                         if isinstance(e, ev.WorkflowExecutionSignaled) and e.request_id}
            self._pick_up(wid, events)
            self._arm_unfired(wid, events)
        return picked

    def _arm_unfired(self, wid: str, events: list) -> int:
        """Arm the run's timers that have not fired (nor been cancelled); returns how many."""
        done = {e.started_event_id for e in events if isinstance(e, (ev.TimerFired, ev.TimerCanceled))}
        unfired = [e for e in events if isinstance(e, ev.TimerStarted) and e.event_id not in done
                   and (wid, e.timer_id) not in self.timers]
        for e in unfired:
            self._arm(wid, e)
        return len(unfired)

    def _pick_up(self, wid: str, events: list) -> None:
        answered = {e.scheduled_event_id for e in events if isinstance(e, ANSWERS)}
        for e in events:
            if isinstance(e, ev.ActivityTaskScheduled) and e.event_id not in answered:
                self.dispatch(Task("activity", wid, e, options=ActivityOptions.from_json(e.options),
                                   run_id=events[0].run_id))
        last = max((i for i, e in enumerate(events) if isinstance(e, ev.WorkflowTaskScheduled)), default=None)
        after = events[last + 1:] if last is not None else []
        if last is None or any(isinstance(e, (ev.WorkflowTaskCompleted, ev.WorkflowTaskFailed)) for e in after):
            return   # answered: the workflow waits for a result, a timer or a message
        started = next((e for e in after if isinstance(e, ev.WorkflowTaskStarted)), None)
        timed_out = any(isinstance(e, ev.WorkflowTaskTimedOut) for e in after)
        if started and not timed_out:   # its process died holding it
            self._append(wid, [ev.WorkflowTaskTimedOut(len(events) + 1, self.env.now, events[last].event_id,
                                                       started.event_id, "START_TO_CLOSE")])
        self.workflow_task[wid] = (events[last].event_id, 0)   # a retry after a timeout is transient: not on record yet
        self.dispatch(Task("workflow", wid, attempt=2 if started or timed_out else 1))
