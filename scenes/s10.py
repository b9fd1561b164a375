"""Scene 10 · Sagas: undoing what can't be rolled back: the view.

The model is `simcore.scenarios.s10`. Its own pieces here: the steps with the undo steps under them (a
step that failed for good crossed out, the email marked as having no undo), the saga's list of
compensations as the workflow's RAM holds it (wiped by a crash, rebuilt by replay), and the warehouse
and the mail.
"""
from __future__ import annotations

from simcore import events as ev
from simcore.scenarios import s10 as model
from simcore.workflow import Saga

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DURABLE, INK, KILLED, MONO, MUTED, REPLAY, DollarMeter, HistoryPanel, Panel, ProcessBox
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why not a distributed transaction, a two-phase commit?": (
        "Because the card network, the warehouse and the mail server are not in your transaction. Two-phase "
        "commit needs every participant to prepare, hold its locks and wait for the coordinator's decision; "
        "these services each commit on their own and answer at once. And locks held across services for "
        "seconds, or across a 30-day wait, would block everyone else.\n\n"
        "A saga gives up isolation instead: each step commits on its own and is visible at once (the customer "
        "sees +$42.00 before the refund), and the workflow restores consistency by running compensations. "
        "Temporal has no built-in saga or rollback: compensation is ordinary workflow code calling activities."),
    "What if a compensation fails?": (
        "It is retried, and only a failure for good reaches the saga's choice: stop, or run the rest and alert. "
        "By default Temporal retries an activity forever, so a warehouse down for an hour just succeeds later "
        "(here on attempt 43, one ActivityTaskStarted in the history). Cap the attempts and the outage becomes "
        "a failure for good.\n\n"
        "Java's `Saga` stops at the first compensation that throws and rethrows: the refund never runs and the "
        "customer is out $42.00 with no mug. With `continueWithError` it runs the rest and silently drops the "
        "failure (`compensate()` returns normally). This course's saga runs the rest, then raises the failure, "
        "so the workflow fails naming it and a person can finish. Either way, alert someone."),
    "What can't be compensated?": (
        "Whatever has left your systems and been seen: an email, a text message, a parcel with the carrier, a "
        "webhook a partner acted on. There is no unsend. You can only follow it with a new effect: here "
        "SendCancellationEmail, \"sorry, your order is cancelled\", an activity of its own, not registered with "
        "the saga.\n\n"
        "So order the steps: what can fail goes first, what can't be undone goes last. This scene emails before "
        "shipping to show the problem; ORDER #1001's own workflow (simcore/orders.py) emails after ShipPackage."),
    "Register the undo before the step, or after?": (
        "Before, if the compensation is safe for a step that never ran; after leaks a step whose answer was "
        "lost. Temporal's saga page says to register compensations \"as each step completes\", but a step that "
        "times out has not completed, and it may have happened: ChargeCard's answer lost on every attempt "
        "leaves a charge with nothing registered to refund it.\n\n"
        "Registering before the call covers that, at a price: the compensation must be safe for a step that "
        "never ran. A blind refund of $42.00 credits money never taken; a refund of "
        "what the card network says the order was charged, sent with its idempotency key, moves nothing."),
    "Orchestration or choreography?": (
        "Orchestration, for a saga you must be able to read and finish: one workflow knows the steps, calls "
        "each service and runs the compensations, so the saga's state is one history you can read and replay. "
        "Temporal's sagas are this (no built-in saga: a list of undo calls in your code, as here).\n\n"
        "Choreography: each service reacts to the others' events (OrderPlaced, CardCharged, ...) and undoes its "
        "own part on a failure event. No coordinator, but no single place says which orders are half-undone, "
        "and the order of undo is spread over many services' code."),
}

SEPARATOR = "if ShipPackage fails: undo, in reverse"


class StepsBox(ProcessBox):
    """The four steps, then the undo steps; a step that failed for good crossed out, the email marked."""

    def __init__(self, ax, box):
        steps = model.FORWARD + (SEPARATOR,) + model.UNDO
        super().__init__(ax, box, steps, title="ORDER #1001")
        for label in self.labels:
            label.set_fontsize(8.5)
        self.labels[4].set_text(SEPARATOR)
        self.labels[4].set_color(MUTED)
        self.labels[4].set_fontstyle("italic")
        self.boxes[4].set_visible(False)
        for i, name in enumerate(model.UNDO):
            self.labels[5 + i].set_text(("\u21ba " if name != "SendCancellationEmail" else "+ ") + name)

    def update(self, run, frame):
        super().update(run, frame)
        events = run.history[:frame.history]
        failed = {run.history[e.scheduled_event_id - 1].activity_type: e for e in events
                  if isinstance(e, (ev.ActivityTaskFailed, ev.ActivityTaskTimedOut))}
        for step, patch, count in zip(self.steps, self.boxes, self.counts):
            if step in failed:
                e = failed[step]
                count.set_text("\u2717 " + (e.error_type if isinstance(e, ev.ActivityTaskFailed) else "timed out"))
                count.set_color(DANGER)
                if not frame.skull:
                    patch.set_facecolor(KILLED)
            elif step == "SendConfirmationEmail" and count.get_text():
                count.set_text(count.get_text() + "  no undo")
            elif step == "RefundCard" and nothing_refunded(events):
                count.set_text("\u2713 $0: none charged")


def nothing_refunded(events) -> bool:
    return any(isinstance(e, ev.ActivityTaskCompleted) and e.result == "nothing to refund" for e in events)


class SagaPanel(Panel):
    """The saga's compensations in the order they will run (last registered first), as the RAM holds them."""

    def __init__(self, ax, box, rows=2):
        super().__init__(ax, box, "saga: undo steps, in RAM")
        self.tag = self.text(self.w - 1, 1.2, "", ha="right", fontsize=8, color=REPLAY)
        self.rows = [self.text(1.5, 4.4 + 2.7 * i, "", family=MONO, fontsize=8.5) for i in range(rows)]
        self.note = self.text(1.5, 4.4 + 2.7 * rows + 0.4, "", fontsize=8, color=MUTED)

    def update(self, run, frame):
        saga = frame.extra.get("saga")
        events = run.history[:frame.history]
        texts = []
        for n, name in enumerate(reversed(saga or [])):
            now = state(events, name, frame is run.frames[-1] and run.outcome != "running")
            texts.append((f"{n + 1}. {name:<17}{now}", REPLAY if frame.replaying else DANGER if now[0] == "\u2717" else
                          MUTED if now == "never ran" else INK))
        if saga is None:
            texts = [("wiped by the crash:", DANGER), ("replay registers them again", DANGER)] if frame.skull else \
                [("(no workflow code has run yet)" if frame.t == 0 else "(wiped: no process holds it)", MUTED)]
        elif not saga:
            texts = [("replay: registering them again" if frame.replaying else "nothing registered",
                      REPLAY if frame.replaying else MUTED)]
        for row, (text, color) in zip(self.rows, texts + [("", INK)] * len(self.rows)):
            row.set_text(text)
            row.set_color(color)
        self.tag.set_text("rebuilt by replay" if frame.replaying and saga else "")
        self.note.set_text("compensate(): the last one added runs first" if saga else "")


def state(events, name, over: bool) -> str:
    """A registered compensation at this frame: registered, running, done, failed, or (the run over) never run."""
    scheduled = next((e for e in events if isinstance(e, ev.ActivityTaskScheduled) and e.activity_type == name), None)
    if scheduled is None:
        return "never ran" if over else "registered"
    end = next((e for e in events if getattr(e, "scheduled_event_id", None) == scheduled.event_id
                and not isinstance(e, ev.ActivityTaskStarted)), None)
    if end is None:
        return "running"
    return "\u2713 done" if isinstance(end, ev.ActivityTaskCompleted) else f"\u2717 {end.error_type}"


class WorldPanel(Panel):
    """What really happened, read from the world's log and the network: the warehouse's stock, the
    requests each compensation sent against the effects they made, and the customer's emails."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "the world: what really happened")
        self.stock = self.text(1.5, 4.2, "", family=MONO, fontsize=8.5)
        self.label(1.5, 7.4, "requests sent -> effects made", fontsize=8, color=MUTED)
        self.calls = [self.text(1.5, 10.0 + 2.6 * i, "", family=MONO, fontsize=8.5) for i in range(3)]
        self.label(1.5, 19.0, "emails the customer got", fontsize=8, color=MUTED)
        self.mails = [self.text(1.5, 21.6 + 2.6 * i, "", family=MONO, fontsize=8.5) for i in range(2)]
        self.left = self.text(1.5, 27.4, "", fontsize=8.5, color=DANGER, fontweight="bold")

    def update(self, run, frame):
        log = run.world.log[:frame.effects]
        held = sum(e.kind == "ReserveInventory" for e in log) - sum(e.kind == "ReleaseInventory" for e in log)
        self.stock.set_text(f"mugs in stock: {model.STOCK - held} of {model.STOCK}" + (" (1 held)" if held else ""))
        for row, name in zip(self.calls, ("ChargeCard", "ReleaseInventory", "RefundCard")):
            sent = [m for m in run.sim.messages[:frame.extra.get("sent", 0)]
                    if m.dst == "world" and m.text.startswith(f"{name} #")]
            lost, made = sum(m.lost for m in sent), sum(e.kind == name for e in log)
            note = f"  ({lost} lost)" if lost else "  (same key)" if len(sent) > made and made else ""
            row.set_text(f"{name:<17}{len(sent)} -> {made}{note}" if sent else "")
        mails = [("confirmation: can't be unsent", INK) if e.kind == "SendConfirmationEmail" else
                 ("cancellation: a new email", DURABLE) for e in log if e.kind.endswith("Email")]
        for row, (text, color) in zip(self.mails, mails + [("", INK)] * 2):
            row.set_text(text and f"\u2709 {text}")
            row.set_color(color)
        last = frame is run.frames[-1]
        net = run.world.statement_cents()
        left = (["a mug held"] if held else []) + ([f"${net / 100:.2f} charged"] if net > 0 else [])
        self.left.set_text("" if not last else f"${-net / 100:.2f} credited, never charged" if net < 0
                           else "not undone: " + ", ".join(left) if left else "")


class Statement(DollarMeter):
    """The card statement, its total signed as the lines are (-$42.00, not $-42.00)."""

    def update(self, run, frame):
        super().update(run, frame)
        cents = run.world.statement_cents(frame.effects)
        if cents < 0:
            self.total.set_text(f"total -${-cents / 100:.2f}")
            self.total.set_color(DANGER)


class S10Diagram(Diagram):
    size = (10.0, 4.4)

    def build(self, ax):
        yield StepsBox(ax, (1, 15, 31, 32))
        yield Statement(ax, (1, 1, 31, 13), rows=3)
        yield SagaPanel(ax, (33, 34, 31, 13))
        yield WorldPanel(ax, (33, 1, 31, 31))
        yield HistoryPanel(ax, (66, 1, 33, 46), rows=17)

    def when(self, frame) -> str:
        return model.clock(frame.t)

    clock_text = when


def code_panels(run, frame) -> str:
    note = ("each step done registers its undo with the saga; when ShipPackage fails for good, compensate() runs "
            "them in reverse, as activities, so a crash while compensating resumes by replay")
    saga_note = ("simcore.workflow.Saga: plain workflow code (Temporal has no built-in saga), with the defaults "
                 "of Java's io.temporal.workflow.Saga")
    return (code_html("order_saga", note, source_of(model.order_saga), running_line(run, frame), frame.replaying,
                      crashed=frame.skull)
            + code_html("Saga", saga_note, source_of(Saga)))


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S10Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(crash="release_unrecorded")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def show_code():
    """Print the workflow, as the engine runs it."""
    print(source_of(model.order_saga))


def crash_table(seed: int = 0):
    """Print a run for every crash point while compensating: net, stock, each compensation's effects."""
    print("\n".join(model.crash_table(seed)))
