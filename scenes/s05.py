"""Scene 05 · Task queues: workers pull, so redeploys are safe: the view.

The model (the keyed workflow, the fleet, the faults, the sampled frames) is
`simcore.scenarios.s05`; this module draws it: the task queue, the workers as boxes (a skull on a
dead one), the scene's counters, and a timeline of the whole run with the deploy gap marked. The
code panels are the engine's own: the worker's pull loop, the lease, the fence.
"""
from __future__ import annotations

from simcore.engine import Engine
from simcore.scenarios import s05 as model

from .kit.code import code_html, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, INK, MONO, MUTED, Panel
from .kit.view import SceneView, try_it as _try_it
from .kit.workers import QueuePanel, Timeline, WorkersPanel

QUESTIONS = {
    "Push or pull: why do workers poll?": (
        "Because a worker that pulls takes only what it can handle, and a worker that is gone takes nothing. "
        "The engine never calls a worker: it appends to the history and puts a task in the queue, and "
        "whoever polls next gets it. So a redeploy needs no coordination: the old worker stops polling, "
        "tasks wait (schedule-to-start grows), the new one polls and takes them. A push design must know "
        "which workers are alive, retry elsewhere when one dies, and hold back when they are overloaded.\n\n"
        "Cadence's docs give the same reasons: workers need no open ports, tasks persist in the task list "
        "while every worker is down, and a worker polls only when it has spare capacity."),
    "What does a lease buy?": (
        "Recovery without a failure detector. A worker holds a task only until a deadline (here "
        "start-to-close, 10 s). If it dies, nobody has to notice: the lease runs out and the task returns to "
        "the queue with a new fencing token. A worker that was only frozen (a GC pause) reports with the old "
        "token and is refused.\n\n"
        "Fencing protects the history, not the world: the frozen worker's call may already have reached the "
        "carrier. The key each activity sends (the workflow run id + the activity id) makes the carrier "
        "answer the repeat with its first result. In Airflow 3 a task whose heartbeat stops hits a task "
        "instance heartbeat timeout (formerly a \"zombie\") and is failed or retried."),
    "What is a sticky queue, and how big should the cache be?": (
        "After a workflow task the worker keeps the workflow's state, and the engine sends its "
        "next task to that worker alone. Not taken within 5 s here (the Go and Java SDKs' default; "
        "Python's is 10 s), the task goes back to the shared queue and its taker replays the history; "
        "a sticky queue nobody has polled for 10 s counts as gone, and its task moves at once. Every "
        "replay the scene counts is such a move: a worker killed, redeployed, frozen or too busy.\n\n"
        "A cache miss costs a history fetch and a replay, never correctness. Size the cache for the "
        "workflows a worker has in flight: Temporal's Python SDK keeps 1,000 by default, "
        "Go 10,000."),
    "How do I scale workers?": (
        "Start more workers polling the same queue: no registration, no rebalancing. Try workers = 1, 2, 3, "
        "5 with the same orders. Each order needs about 8.25 s of worker time (7 s of activities, five 0.25 "
        "s workflow tasks) and one arrives every 3.5 s, so it takes 2.4 workers just to keep up: with 1 or 2 "
        "the queue grows for the whole run; with 5 it barely forms.\n\n"
        "Scale on schedule-to-start latency, the time a task waits for a worker; CPU tells you less. "
        "Temporal's SDKs report it as temporal_workflow_task_schedule_to_start_latency and "
        "temporal_activity_schedule_to_start_latency."),
    "What does Cadence call all this?": (
        "A decision task: what this engine calls a workflow task, where a worker runs the workflow code and "
        "returns its decisions (Temporal says commands). A task list: a task queue, with decision task "
        "lists, activity task lists, and sticky task lists for the cached case. Task lists are created on "
        "first use; nobody registers them.\n\n"
        "The matching service is the part of the cluster that owns task lists and matches each task to a "
        "long-polling worker; the history service owns every workflow's history, sharded by workflow id; the "
        "frontend routes requests. Temporal kept the architecture and renamed the parts: workflow task, task "
        "queue, sticky queue."),
}

COUNTERS = (("orders completed", lambda run, f: f"{f.extra.get('closed', 0)}/{run.controls['orders']}"),
            ("statement", lambda run, f: f"${run.world.statement_cents(f.effects) / 100:,.2f}"),
            ("waiting now", lambda run, f: str(f.extra.get("queued", 0))),
            ("longest wait", lambda run, f: f"{f.extra.get('max_wait', 0):.1f}s"),
            (f"waits > {model.SLOW:g}s", lambda run, f: str(f.extra.get("waited", 0))),
            ("leases run out", lambda run, f: str(f.extra.get("leases", 0))),
            ("stale rejected", lambda run, f: str(f.extra.get("rejected", 0))),
            ("replays", lambda run, f: str(f.extra.get("replays", 0))))


class Counters(Panel):
    """The scene's numbers so far, at the frame's moment: every one read from the frame."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "so far")
        for i, (label, _) in enumerate(COUNTERS):
            self.label(1.5, 4.0 + 2.75 * i, label, color=MUTED)
        self.values = [self.text(self.w - 1.5, 4.0 + 2.75 * i, "", ha="right", family=MONO)
                       for i in range(len(COUNTERS))]

    def update(self, run, frame):
        for (label, value), art in zip(COUNTERS, self.values):
            art.set_text(value(run, frame))
            art.set_color(DANGER if label == "stale rejected" and art.get_text() != "0" else INK)


class S05Diagram(Diagram):
    def build(self, ax):
        yield QueuePanel(ax, (2, 19.5, 25, 27))
        yield WorkersPanel(ax, (29, 19.5, 45, 27))
        yield Counters(ax, (76, 19.5, 22, 27))
        yield Timeline(ax, (2, 0.8, 96, 17.2))


# -- the code panels: the engine's own source, lit where the frame is ----------------------------
PANELS = (
    (Engine.worker, "Engine.worker", "a worker's loop: it pulls tasks; the engine never pushes one"),
    (Engine._lease, "Engine._lease", "the lease: a task not completed in time goes back in the queue"),
    (Engine._settle, "Engine._settle", "the fence: a completion with an old token is refused"),
    (model.charge_card_keyed, "activity ChargeCard", "a stable key: a repeated call charges once (scene 07)"),
)
LIT = (   # (what the caption says, which panel, the piece of its line to light)
    ("CRASH", "Engine.worker", "except (ProcessCrashed"),
    ("going down", "Engine.worker", "while not w.draining"),
    ("back, with new code", "Engine.worker", "w.poll = self.queue.poll"),
    ("starts with an empty memory", "Engine.worker", "w.poll = self.queue.poll"),
    ("no cached state", "Engine.worker", "yield from self._workflow_task"),
    ("the lease is taken back", "Engine._lease", "reason = "),
    ("stale completion", "Engine._settle", "self.rejected += 1"),
    ("", "Engine.worker", "task = yield poll"),
)


def lit_line(source: str, piece: str) -> int | None:
    return next((n for n, line in enumerate(source.splitlines(), 1) if piece in line), None)


def code_panels(run, frame) -> str:
    title, piece = next((t, p) for said, t, p in LIT if said in frame.caption)
    return "".join(code_html(name, note, source_of(fn), lit_line(source_of(fn), piece) if name == title else None,
                             crashed=frame.skull and name == title, engine=name.startswith("Engine."))
                   for fn, name, note in PANELS)


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S05Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(workers=3, deploy="rolling", kill="worker-2", zombie="on")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)
