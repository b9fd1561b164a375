"""Scene 06 · Retries and exponential backoff: the view.

The model (workflow, policies, controls, simulation, outcome lines) is `simcore.scenarios.s06`. Its
own pieces here: a policy panel (what the policy promises, what order #1001 saw so far) and the two
plots from `kit/plots.py`: the load on the inventory service, and the attempts timeline.
"""
from __future__ import annotations

from simcore.scenarios import s06 as model

from .kit.code import code_html, source_of
from .kit.diagram import Diagram
from .kit.panels import INK, MONO, MUTED, HistoryPanel, Panel, ProcessBox
from .kit.plots import AttemptsTimeline, LoadPlot
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Why retry in the engine, not in the activity?": (
        "Because a retry loop inside the activity forgets, hides and multiplies. Its attempt count and sleep "
        "live in the worker's RAM: a crash restarts the backoff at 1 s. The history shows one long attempt, "
        "so nobody sees attempt 37 asleep. It holds a worker slot while it sleeps, and start_to_close must "
        "cover the whole loop. And loops stack: 3 tries in the activity x 3 in the client library x 3 at the "
        "gateway is 27 calls for one request.\n\n"
        "In the engine the schedule is durable state: the wait costs no worker and survives any crash. "
        "Temporal retries every activity by default (1 s, x2, capped at 100 s, unlimited attempts); DBOS "
        "retries a step only with retries_allowed=True."),
    "Which timeout do I set?": (
        "start_to_close, always: one attempt, from a worker taking it to its result; on expiry the attempt "
        "is retried. Set it a little above the slowest healthy attempt: it is how a hung call or a dead "
        "worker is noticed (here ShipPackage's, at 10 s).\n\n"
        "schedule_to_close: the whole activity, every attempt and wait; on expiry it fails for good. Set it "
        "when the caller has a deadline.\n\n"
        "schedule_to_start: one attempt waiting in the queue; on expiry it fails, not retried. Rarely "
        "needed.\n\n"
        "heartbeat: the longest silence inside a long attempt; on expiry the attempt is retried. For "
        "attempts of minutes or hours, so a dead worker is found in seconds.\n\n"
        "Temporal requires start_to_close or schedule_to_close on every activity."),
    "Why jitter?": (
        "Because callers that fail together come back together. Backoff spreads retries out in time; jitter "
        "spreads them apart from each other. Callers that failed at the same instant (one outage, one "
        "deploy, one cron tick) and follow the same schedule return at the same instants, in waves, and each "
        "wave can knock the recovering service over again. A random fraction on every wait turns the waves "
        "into a drizzle. Here the orders arrived 0.1 s apart, so their retries were spread already.\n\n"
        "Temporal's RetryPolicy has no jitter field: the server waits initial_interval x "
        "coefficient^(n-1), capped at maximum_interval, unless the failure names its own next_retry_delay. Our RetryPolicy's `jitter` is an addition (off in "
        "this scene, so the schedule shows exactly)."),
    "What if the step isn't idempotent?": (
        "Then a retry can do it twice. A retry is a new call; if the last one reached the world and only its "
        "answer was lost or late, the effect happens again. Set fault to 'ShipPackage hangs': attempt 1 is "
        "abandoned at start_to_close, attempt 2 ships, then attempt 1 wakes up and ships too. The engine "
        "refuses the late result but cannot un-ship a package.\n\n"
        "Fix it at the callee: send a key that is the same on every attempt (the workflow run id + the "
        "activity id) and the carrier returns the first result (scene 07). If the service takes no key, set "
        "maximum_attempts=1 and reconcile. Temporal's docs say it plainly: \"Temporal recommends that "
        "Activities be idempotent.\""),
    "Why does the storm outlast the incident?": (
        "Because a refused request still costs the service: it accepts the connection, reads it, says no. "
        "With immediate retries every caller comes back within a second, so the offered load stays near 50 "
        "requests a second against a capacity of 20, and stays there after the cause is gone: the retries "
        "alone keep the service down. Bronson et al. (HotOS 2021) call this a metastable failure.\n\n"
        "Backoff breaks the loop from the callers' side: each failure halves a caller's rate, the load falls "
        "under capacity, and the first request after the incident succeeds. Capping attempts breaks it too, "
        "but by giving up: with 5 immediate attempts every order is refunded."),
}


class StepsBox(ProcessBox):
    """ORDER #1001's steps; with 100 orders, how many orders each step has done."""

    def __init__(self, ax, box, steps):
        super().__init__(ax, box, steps)
        for label in self.labels:
            label.set_fontsize(8)
        self.per_run = [self.title]

    def prepare(self, run):
        n = run.controls["orders"]
        self.title.set_text("ORDER #1001" if n == 1 else f"{n} orders: steps done")

    def update(self, run, frame):
        super().update(run, frame)
        n = run.controls["orders"]
        if n > 1:
            done = run.world.effects(frame.effects)
            for step, count in zip(self.steps, self.counts):
                count.set_text(f"{done.get(step, 0)}/{n}")
                count.set_color(INK)


class PolicyPanel(Panel):
    """The retry policy in force and the waits it promises (drawn once per run), and the waits order
    #1001 has seen so far (each frame)."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "retry policy")
        self.fixed = [ax.text(self.x + 1.5, self.y + self.h - 3.4 - 1.9 * i, "", family=MONO, fontsize=7, va="top",
                              zorder=3) for i in range(7)]
        self.per_run = self.fixed
        self.seen = self.text(1.5, 3.4 + 1.9 * 7, "", family=MONO, fontsize=7)
        self.label(1.5, 3.4 + 1.9 * 8, "  (ReserveInventory, gaps in s)", family=MONO, fontsize=7, color=MUTED)

    def prepare(self, run):
        c = run.controls
        p = model.retry_policy(c["retry"], c["max_attempts"])
        texts = [f"{c['retry']}: RetryPolicy(", f"  initial_interval={p.initial_interval:g},",
                 f"  backoff_coefficient={p.backoff_coefficient:g},", f"  maximum_interval={p.maximum_interval},",
                 f"  maximum_attempts={p.maximum_attempts}" + ("," if p.maximum_attempts else ",  # unlimited"),
                 f"  non_retryable_error_types={list(p.non_retryable_error_types)})",
                 "promised: " + _list(p.schedule(p.maximum_attempts or 12), more=not p.maximum_attempts)]
        for row, text in zip(self.fixed, texts):
            row.set_text(text[:60])
        self._waits = list(zip(model.waits(run), _reserve_starts(run)[1:]))

    def update(self, run, frame):
        self.seen.set_text("seen by #1001: " + (_list([w for w, started in self._waits if started <= frame.t]) or "-"))


def _list(values, room=32, more=False) -> str:
    """Seconds as a short line of numbers that fits the panel: `1 2 4 8 16 20 ...`."""
    text = " ".join(f"{v:g}" for v in values)
    if len(text) > room or more:
        return text[:text.rfind(" ", 0, room - 3)] + " ..."
    return text


def _reserve_starts(run) -> list[float]:
    return [a["start"] for a in sorted(model.attempts(run, model.WATCH), key=lambda a: a["n"])
            if a["step"] == "ReserveInventory"]


def end_of(run) -> float:
    """The x range both plots share: the run's last frame, rounded up to a round number of seconds."""
    last = run.frames[-1].t
    return next((x for x in (10, 15, 20, 30, 45, 60, 90) if x >= last), model.HORIZON)


def load_data(run) -> dict:
    down, xmax = run.downstream, end_of(run)
    sent, refused = [0] * int(xmax), [0] * int(xmax)
    for times, bins in ((down.arrivals, sent), (down.failures, refused)):
        for t in times:
            if t < xmax:
                bins[int(t)] += 1
    return dict(step=1.0, served=[s - r for s, r in zip(sent, refused)], refused=refused, capacity=down.capacity,
                xmax=xmax, outage=(0.0, down.sick_until) if down.sick_until > 0 else None)


def timeline_data(run) -> dict:
    """ORDER #1001's steps, one row each; with 100 orders, ReserveInventory for every tenth order."""
    xmax, many = end_of(run), run.controls["orders"] > 1
    if many:
        rows = [f"order-{1001 + 10 * i}" for i in range(10)]
        tries = [a for a in model.attempts(run) if a["wid"] in rows and a["step"] == "ReserveInventory"]
        labels, row_of = [f"#{w[6:]} reserve" for w in rows], lambda a: rows.index(a["wid"])
    else:
        tries = model.attempts(run, model.WATCH)
        labels = [s for s in model.STEPS if s != "RefundCard" or any(a["step"] == s for a in tries)]
        row_of = lambda a: labels.index(a["step"])   # noqa: E731
    bars, marks, last = [], [], {}
    for a in sorted(tries, key=lambda a: (a["wid"], a["step"], a["n"])):
        row, prev = row_of(a), last.get((a["wid"], a["step"]))
        bars.append((row, a["start"], a["failed_at"], "ok" if a["outcome"] == "ok" and not a["late"] else "failed"))
        if a["late"]:
            bars.append((row, a["failed_at"], a["end"], "late"))
            marks.append((row, (a["failed_at"] + a["end"]) / 2, "late result: refused"))
        if prev and (row == 0 or not many) and a["start"] - prev["failed_at"] >= xmax / 30:
            marks.append((row, (prev["failed_at"] + a["start"]) / 2, f"{a['start'] - prev['failed_at']:g}s"))
        last[(a["wid"], a["step"])] = a
    return dict(rows=labels, bars=bars, marks=marks, xmax=xmax)


class S06Diagram(Diagram):
    size = (10.0, 4.4)

    def build(self, ax):
        yield StepsBox(ax, (1, 26.5, 27, 20), model.STEPS)
        yield HistoryPanel(ax, (29, 26.5, 36.5, 20), rows=6)
        yield PolicyPanel(ax, (66.5, 26.5, 32.5, 20))
        yield LoadPlot(ax, (1, 1, 44, 24.5), "inventory service: requests per second", load_data)
        yield AttemptsTimeline(ax, (46, 1, 53, 24.5), "attempts (bars) and the waits between them", timeline_data)


def code_panels(run, frame) -> str:
    lit = frame.line if run.controls["orders"] == 1 else None
    note = ("every step carries the retry policy; the engine retries, the workflow only sees the final outcome"
            " (ActivityError when the attempts are spent or the error is not retryable)")
    policy_src = source_of(model.retry_policy)
    want = "initial_interval=0.1" if run.controls["retry"] == "immediate" else "initial_interval=1,"
    chosen = next(i for i, line in enumerate(policy_src.splitlines(), 1) if want in line)
    return (code_html("fulfill_order", note, source_of(model.fulfill_order), lit, frame.replaying)
            + code_html("retry_policy", f"the policy in force: {run.controls['retry']}", policy_src, chosen))


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S06Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(orders=100, retry="backoff", incident=30)`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def policy(**fields):
    """Print the waits a retry policy promises, or why it is refused: `policy(backoff_coefficient=0.5)`."""
    print("\n".join(model.policy_lines(**fields)))


def show_code():
    """Print the workflow, as the engine runs it."""
    print(source_of(model.fulfill_order))
