"""Scene 08 · Durable timers: sleep for thirty days: the view.

The model is `simcore.scenarios.s08`. Its own pieces here: a calendar (the month, today lit, the
crashes, the redeploys, the shipping, the timer firing and the email, each on its day) and a panel
for where the wait lives (the engine's timer queue and the workers; the plain process; the cron
table and its scans).
"""
from __future__ import annotations

from datetime import timedelta

from matplotlib.collections import PolyCollection

from simcore import events as ev
from simcore.scenarios import s08 as model
from simcore.scenarios import subscription as billing

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DONE, DURABLE, INK, LIT, MONO, MUTED, PAPER, HistoryPanel, Panel, ProcessBox, RamPanel
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Where does a sleeping workflow live?": (
        "In a row and a timer task: it needs nothing in RAM. The history holds TimerStarted; the engine's timer "
        "queue holds (order-1001, timer 1, due day 30). A worker may keep it cached, but kill or redeploy the "
        "worker all month and nothing is lost. On day 30 the engine writes TimerFired and queues a workflow "
        "task; a worker that still caches the workflow just continues, any other replays the history first.\n\n"
        "Temporal's server works the same way: its history-service doc uses a 30-day sleep as the example "
        "(a timer task; when it expires, a workflow task). DBOS differs: it writes the wake-up time, then sleeps "
        "in a live thread or coroutine, and recovery recomputes what is left."),
    "How does an engine fire millions of timers?": (
        "With a timer queue per history shard, ordered by due time: no thread, no worker per sleep. Temporal "
        "keeps a workflow's timers in its row and puts the earliest in its shard's timer queue; when that fires "
        "it appends TimerFired and WorkflowTaskScheduled, hands the task to matching, and queues the next. Its docs: workers "
        "\"consume no additional resources while waiting for a Timer to fire\", so one worker can await millions.\n\n"
        "Ours: a heap by due time (`engine.timer_queue`) wakes the engine at the first; `rearm()` rebuilds it "
        "from the store. Temporal's timer "
        "duration is a minimum (its docs: workflows \"should not rely on sub-second accuracy for Timers\"); "
        "ours fire exactly, on a simulated clock."),
    "How do I test a 30-day sleep?": (
        "Skip time: run the workflow on a clock that jumps to the next timer. This scene runs a month in a "
        "fraction of a second because its clock is simulated: nothing happens between the events, so the clock "
        "goes straight to the next one.\n\n"
        "Temporal's Python SDK does the same in tests: `WorkflowEnvironment.start_time_skipping()` fast-forwards "
        "timers \"except when Activities are running\", and `env.sleep()` moves time on by hand. The skipped time "
        "is global to that test server, so tests sharing one share its clock."),
    "What does continue-as-new carry, and what does it drop?": (
        "It carries the input you pass it, and drops the history. The new run has the same workflow id, a new "
        "run id and a fresh history whose first event holds that input; Temporal also carries the memo, search "
        "attributes and timeouts, and the execution timeout spans the whole chain. Dropped: every event, any state not in the input, the timer and activity ids (they start "
        "again at 1), and signal and update de-duplication, which Temporal says does not cross the boundary.\n\n"
        "Why do it for billing, at 11 events a month? Not the 51,200-event limit: the cost of replaying a long "
        "history after a cache miss, the 10,000-signals cap, and getting old workflows onto new code."),
    "Why not time.sleep, or a cron job?": (
        "Because time.sleep keeps the promise in one process's RAM, and a cron job keeps it in a table but "
        "pays for it in lateness and code. Kill the sleeping process and no record says a review was owed. The "
        "cron job survives crashes, but sends at its next tick (here a day late), scans the table every day, "
        "and a crash between the email and the UPDATE sends it twice.\n\n"
        "In Temporal you cannot even try: the Python sandbox refuses `time.sleep` in workflow code, and the "
        "workflow task fails with \"Cannot access time.sleep.__call__ from inside a workflow\"."),
}

WEEK = ("M", "T", "W", "T", "F", "S", "S")
MARK = {"ship": ("ship", INK), "crash": ("\u2620 kill", DANGER), "deploy": ("deploy", DANGER),
        "fired": ("fired", DURABLE), "email": ("email", "#2f9e62")}


class StepsBox(ProcessBox):
    """Ship, wait, ask: ticks from the world's log; the wait ticked when the timer fired (or the sleep ended)."""

    def __init__(self, ax, box):
        super().__init__(ax, box, model.STEPS, title="ORDER #1001")
        self.labels[1].set_text("2. wait 30 days")
        self.labels[2].set_text("3. SendReviewRequest")

    def done(self, run, frame):
        effects = run.world.effects(frame.effects)
        email = effects.get("SendReviewRequestEmail", 0)
        fired = sum(1 for t, k in run.extra["marks"] if k == "fired" and t <= frame.t) or (email and 1)
        return {"ShipPackage": effects.get("ShipPackage", 0), "timer": fired, "SendReviewRequest": email}


class History(HistoryPanel):
    """The event history; what it says when a strategy keeps none."""

    def prepare(self, run):
        super().prepare(run)
        self.empty = {"plain": "no history: the sleep lives only in RAM",
                      "cron_table": "no history: the promise is a table row"}.get(run.controls["strategy"], "")


class CalendarPanel(Panel):
    """Five weeks from Monday 23 November 2026: today lit, what happened on each day written in its cell."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "calendar: November - December 2026")
        cw, top = (self.w - 2) / 7, 5.0
        self.ch = ch = (self.h - top - 1.2) / 5
        corners, self.dates, self.notes, self.day0 = [], [], [], 1   # day 0 (Tuesday) is in column 1
        for k, d in enumerate(WEEK):
            self.label(1 + cw * (k + 0.5), 3.2, d, ha="center", color=MUTED)
        for i in range(35):
            r, c = divmod(i, 7)
            x, y = self.x + 1 + c * cw, self.y + self.h - top - (r + 1) * ch
            x0, y0, x1, y1 = x + 0.15, y + 0.15, x + cw - 0.15, y + ch - 0.15
            corners.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            date = model.ev.EPOCH + timedelta(days=i - self.day0)
            self.dates.append(self.moving(ax.text(x + 0.5, y + ch - 0.5, str(date.day), fontsize=8, va="top",
                                                  color=MUTED, zorder=3)))
            self.notes.append(self.moving(ax.text(x + 0.5, y + ch - 2.6, "", fontsize=8, va="top", zorder=3,
                                                  linespacing=1.15)))
        # the 35 days as one collection: one draw call a frame, each day's colours set per frame
        self.cells = self.moving(ax.add_collection(PolyCollection(corners, facecolors=PAPER, edgecolors="#cbd2d9",
                                                                  linewidths=0.6, zorder=2)))

    def update(self, run, frame):
        today = model.day_number(frame.t) + self.day0
        due = model.day_number(run.extra["due"]) + self.day0
        by_day: dict[int, list] = {}
        for t, kind in run.extra["marks"]:
            if t <= frame.t and kind in MARK:
                by_day.setdefault(model.day_number(t) + self.day0, []).append(kind)
        days = range(len(self.dates))
        self.cells.set_facecolor([LIT if i == today else DONE if self.day0 <= i < today else PAPER for i in days])
        self.cells.set_edgecolor([DURABLE if i == due else "#cbd2d9" for i in days])
        self.cells.set_linewidth([2.0 if i == due else 0.6 for i in days])
        for i, (date, note) in enumerate(zip(self.dates, self.notes)):
            kinds = list(dict.fromkeys(by_day.get(i, [])))
            note.set_text("\n".join(MARK[k][0] for k in kinds[:3]) or ("due" if i == due else ""))
            note.set_color(MARK[kinds[0]][1] if kinds else DURABLE)
            date.set_color(INK if i == today else MUTED)


class WaitPanel(Panel):
    """Where the wait lives at this frame: the engine's timer queue and the workers (durable), the process
    (plain), or the table and the scans (cron)."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "where the wait lives")
        self.rows = [self.text(1.5, 3.8 + 2.4 * i, "", family=MONO, fontsize=8) for i in range(5)]

    def update(self, run, frame):
        x, strategy = frame.extra, run.controls["strategy"]
        if strategy == "durable":
            # due to the minute, not the second: the row fits the panel's width then
            timers = [f" {wid} timer {tid}: due {model.day_of(due).rsplit(':', 1)[0]}" for (wid, tid), due in
                      x.get("timers", [])]
            workers = ", ".join(f"{n} {s}" for n, s in x.get("workers", []))
            texts = ["engine's timer queue (durable):", *(timers or [" (empty)"]), f"workers: {workers}",
                     f"task queue: {len(x.get('queue', []))} waiting"]
        elif strategy == "plain":
            texts = [f"process: {x.get('process', 'starting')}",
                     "  in RAM: time.sleep(2592000)" if x.get("process") == "running" else "",
                     "on disk: nothing"]
        else:
            rows = [f"  {o} | shipped {model.day_of(t).split(',')[0]} | sent={s}" for o, t, s in x.get("rows", [])]
            texts = ["table reviews (on disk):", *(rows or ["  (no rows)"]), f"daily scans so far: {x.get('scans', 0)}",
                     f"cron machine: {x.get('machine', 'up')}"]
        for row, text in zip(self.rows, texts + [""] * len(self.rows)):
            row.set_text(text)
            row.set_color(DANGER if "dead" in text or "rebooting" in text else INK)


class S08Diagram(Diagram):
    size = (10.0, 4.4)

    def when(self, frame) -> str:
        return model.day_of(frame.t)

    clock_text = when
    caption_x = 15.5

    def build(self, ax):
        yield StepsBox(ax, (1, 31, 27, 15))
        yield RamPanel(ax, (1, 18.5, 27, 11.5), rows=3)
        yield WaitPanel(ax, (1, 1, 27, 16.5))
        yield History(ax, (29, 1, 36, 45), rows=16)
        yield CalendarPanel(ax, (66, 1, 33, 45))


def code_panels(run, frame) -> str:
    strategy, lit = run.controls["strategy"], running_line(run, frame)
    if strategy == "durable":
        return code_html("review_later", "ctx.sleep(days=30) writes TimerStarted; the engine fires it on day 30 "
                         "and the workflow resumes by replay", source_of(model.review_later), lit, frame.replaying,
                         crashed=frame.skull)
    if strategy == "plain":
        return code_html("review_later (a plain process)", "the same steps; the wait is time.sleep in the process",
                         source_of(model.review_later_plain), lit and lit - 1, crashed=frame.skull)   # no @workflow line
    job = source_of(model.review_job)
    email = next(i for i, line in enumerate(job.splitlines(), 1) if "world.email" in line)
    return (code_html("on_shipped", "the order process, once: ship and write a row", source_of(model.on_shipped))
            + code_html("review_job", "crond runs it every day at 09:00: scan the table, send what is due",
                        job, email if frame.caption.startswith("cron tick") else None))


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S08Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(strategy="durable", crashes=10, day_30="down")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def show_code():
    """Print the workflow, as the engine runs it."""
    print(source_of(model.review_later))


def subscription(months=36, every=12, kills=6):
    """Bill a subscription monthly for `months` months, continuing as new every `every` months ("off":
    never), with `kills` worker kills (and one inside each continue-as-new task): print what it shows."""
    print("\n".join(billing.subscription_lines(billing.simulate_subscription(months, every, kills))))


def timer_events(**controls):
    """Print the history around the timer: what is written, when, and what is not."""
    run = model.simulate(**controls)
    for e in run.history[9:]:
        what = f"TimerStarted {e.timer_id} ({e.seconds / model.DAY:g} days)" if isinstance(e, ev.TimerStarted) \
            else e.summary()
        print(f"{e.event_id:>2} {model.day_of(e.time):<18} {what}")
