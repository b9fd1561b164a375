"""Scene 09 · Signals and queries: talking to a running workflow: the view.

The model is `simcore.scenarios.s09`. Its own piece here: a panel of the messages the outside sent the
workflow (signals, queries, updates), each with what it did to the history, shown once it has happened,
with the worker's state at this frame.
"""
from __future__ import annotations

from simcore.scenarios import s09 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DURABLE, INK, MONO, DollarMeter, HistoryPanel, Panel, ProcessBox, clip
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Signal, query or update: which one?": (
        "A signal tells, a query asks, an update asks and waits for the answer. A signal is persisted at once "
        "(WorkflowExecutionSignaled, after the running workflow task if there is one) and needs no worker: here it was written while the worker was dead. A query "
        "runs a read-only handler on a worker and writes nothing. An update is validated, then recorded "
        "(accepted, completed) and returns a result; like a query it needs a worker.\n\n"
        "Temporal's docs put it plainly: use signals \"when the clients don't want to rely on the Worker being "
        "available\". DBOS's counterparts: `send`/`recv` for signals, `set_event`/`get_event` for state a client reads."),
    "Can a query change the workflow's state?": (
        "No: a query may only read, because nothing it does is recorded. The handler runs on a worker against "
        "the workflow's state, and the history's length is the same before and after (here 17 and 17). A change "
        "made there would live in one worker's memory and vanish on the next replay, so it would not be state at "
        "all. To change state, send a signal or an update: both are events.\n\n"
        "With no worker polling, Temporal fails the query with \"no poller seen for task queue recently\", as "
        "here; a completed workflow can still be queried, by a worker that replays its history."),
    "Are signals ordered? Can one arrive twice?": (
        "Ordered, yes; twice, yes, unless you guard against it. The server records messages in the order they "
        "arrived and the workflow handles them in that order. It de-duplicates only a repeated request id, a "
        "client retrying the same call: two separate `signal()` calls are two events. Temporal's own advice is "
        "to put your own idempotency key in the signal's arguments. Its de-duplication does not cross continue-as-new.\n\n"
        "Signals are never dropped by closing: a workflow task that tries to complete while a new signal waits is "
        "failed (UNHANDLED_COMMAND) and a new task hands the signal over. Our engine does the same. The cap: "
        "10,000 signals per run."),
    "What happens when I signal a completed workflow?": (
        "It is refused: the workflow has no code left to react, so nothing is written. This scene sends one "
        "after the order closed and the engine answered \"workflow execution already completed\"; a Temporal "
        "server answers NotFound with the same words. A signal without a run id goes to the current run, so "
        "after continue-as-new it reaches the new run.\n\n"
        "If the customer can write after the end, send the message somewhere that is still listening, or start "
        "a new workflow with signal-with-start, which Temporal makes atomic (update-with-start is not)."),
}


class StepsBox(ProcessBox):
    """The order's steps, and the undo steps; the return label ticked from its email."""

    def __init__(self, ax, box):
        super().__init__(ax, box, model.STEPS, title="ORDER #1001")
        for label in self.labels:
            label.set_fontsize(8.5)

    def done(self, run, frame):
        effects = run.world.effects(frame.effects)
        return {**effects, "SendReturnLabel": effects.get("SendReturnLabelEmail", 0)}


class MessagesPanel(Panel):
    """Signals, queries and updates sent so far, each with what it did to the history; the worker now."""

    def __init__(self, ax, box, rows=14):
        super().__init__(ax, box, "messages to the workflow")
        self.worker = self.text(1.5, 3.8, "", family=MONO, fontsize=8)
        self.rows = [self.text(1.5, 7.0 + 2.5 * i, "", family=MONO, fontsize=8) for i in range(rows)]

    def update(self, run, frame):
        status = next((f"{n}: {s}" for n, s in frame.extra.get("workers", [])), "")
        self.worker.set_text(status)
        self.worker.set_color(DANGER if "dead" in status else INK)
        texts = []
        for m in run.extra["messages"]:
            if m["t"] > frame.t:
                continue
            at = model.when(m["t"]).split(", ")[1]
            day = model.when(m["t"]).split(",")[0]
            head = f"{day} {at}"
            if m["kind"] == "signal":
                texts += [(f"{head} signal cancel", INK),
                          (f"  recorded: event {m['event_id']}" + ("" if m["alive"] else " (no worker)"), DURABLE)]
            elif m["kind"] == "query":
                texts += [(f"{head} query status", INK)]
                texts += [("  failed: no poller seen", DANGER)] if m["error"] else [
                    (clip(f"  -> {m['answer']!r}", 46), INK), (f"  history {m['before']} -> {m['after']}: no event", DURABLE)]
            elif m["kind"] == "update":
                settled = m["t"] + 60 <= frame.t
                texts += [(f"{head} update {m['name']}", INK),
                          ("  rejected: nothing written", DANGER) if m["error"] else
                          (f"  accepted: history {m['before']} -> {m['after']}" if settled else "  accepted", DURABLE)]
            elif m["kind"] == "late" and m["error"]:
                texts += [(f"{head} signal cancel", INK), ("  refused: already completed", DANGER)]
        texts = texts[-len(self.rows):]
        for row, (text, color) in zip(self.rows, texts + [("", INK)] * len(self.rows)):
            row.set_text(text)
            row.set_color(color)


class S09Diagram(Diagram):
    size = (10.0, 4.4)

    def when(self, frame) -> str:
        return model.when(frame.t)

    clock_text = when
    caption_x = 13

    def build(self, ax):
        yield StepsBox(ax, (1, 19, 27, 27))
        yield DollarMeter(ax, (1, 1, 27, 17), rows=3)
        yield HistoryPanel(ax, (29, 1, 36, 45), rows=16)
        yield MessagesPanel(ax, (66, 1, 33, 45))


def code_panels(run, frame) -> str:
    note = ("the customer's cancel is a signal; ctx.first waits for it or for the timer, whichever comes first; "
            "the status is what a query reads")
    return code_html("cancellable_order", note, source_of(model.cancellable_order), running_line(run, frame),
                     frame.replaying, crashed=frame.skull)


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S09Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(cancel="before_shipping", workers="down")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def show_code():
    """Print the workflow, as the engine runs it."""
    print(source_of(model.cancellable_order))


def signal_events(**controls):
    """Print the history from the signal on: what the engine wrote, and when."""
    run = model.simulate(**controls)
    first = next((e.event_id for e in run.history if e.type == "WorkflowExecutionSignaled"), None)
    for e in run.history[(first or 1) - 1:]:
        print(f"{e.event_id:>2} {model.when(e.time):<14} {e.summary()}")

