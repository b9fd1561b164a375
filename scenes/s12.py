"""Scene 12 · DAGs and schedules: the Airflow way: the view.

The model is `simcore.scenarios.s12` (the DAG, its tasks, the scheduler in simcore/dag). Three
pieces of its own: the DAG drawn with networkx, each task instance of the watched run in Airflow's
state colours; a grid of runs x tasks like Airflow's grid view; and a timeline of each run's data
interval against the time it was created, with the other timetable kind's runs beneath for contrast.
"""
from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import networkx as nx
from matplotlib.colors import to_hex, to_rgb
from matplotlib.collections import PolyCollection
from matplotlib.patches import FancyBboxPatch, Rectangle

from simcore.dag.dag import STATE_COLOURS
from simcore.dag.scheduler import created_runs
from simcore.dag.store import parse
from simcore.scenarios import s12 as model

from .kit.code import code_html, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, INK, MUTED, Panel, Skull
from .kit.plots import PlotPanel, line
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "DAG-first or code-first?": (
        "DAG-first when the work is a fixed graph of batch steps run on a schedule; code-first when it is one "
        "long conversation with the world. Airflow declares the graph and a scheduler walks it; a task's "
        "progress is its state row in the metadata database, and a crash re-runs the task from its start. "
        "Temporal runs your code and replays its event history, so a crash resumes mid-function, and waits, "
        "signals and branches are plain code. A nightly report fits a DAG; an order that waits 30 days for a "
        "return does not."),
    "What are a data interval and a logical date?": (
        "The data interval is the slice of time a run processes; the logical date is its start. With a "
        "data-interval timetable the run for [03-07, 03-08) has logical date 03-07 and starts after 03-08 "
        "00:00, when that day's data is complete. Airflow 3 changed the default: `schedule='@daily'` is now a "
        "CronTriggerTimetable, so the run happens at 03-07 00:00 with interval [03-07, 03-07): zero width. Users "
        "file it as a bug. And catchup now defaults to False. Pick CronDataIntervalTimetable to get the 2.x "
        "meaning back."),
    "Why must tasks be idempotent?": (
        "Because Airflow runs a task again from its first line whenever it retries it, or a new scheduler "
        "resets it after a crash (an executor that can adopt it, like Celery's, lets it run on); nothing is "
        "replayed. Airflow's best practices say to treat a task like a database transaction: "
        "the same outcome on every re-run, UPSERT not INSERT, read and write one partition keyed by "
        "`data_interval_start`, never `now()`. Set fault to 'scheduler killed': in append mode the day's "
        "revenue doubles; overwriting the interval's partition gives the same figure however often it runs."),
    "What is dynamic fan-out?": (
        "One task per item, decided at run time: `process.expand(file=list_files())` makes as many mapped task "
        "instances as the upstream returned, each with its own state, retries and map_index in the grid. The "
        "graph's shape is still fixed (one mapped node); only the count varies. In Temporal fan-out is a loop "
        "that starts activities or child workflows and gathers them, since the workflow is code."),
    "What is Temporal's equivalent?": (
        "Schedules: a Schedule starts a workflow on a calendar or interval spec. Its `catchup_window` says how "
        "far back missed actions are still run after an outage (default one year, at least 10 seconds); "
        "`overlap_policy` says what happens when the previous run is still going (default SKIP; also BUFFER_ONE, "
        "BUFFER_ALL, CANCEL_OTHER, TERMINATE_OTHER, ALLOW_ALL), close to max_active_runs. A BackfillRequest runs a past "
        "range. There is no data interval: the workflow gets its scheduled time and computes the rest."),
}
TASKS = list(model.TASK_SECONDS)
SHORT = {"extract_orders": "extract", "compute_revenue": "revenue", "compute_refunds": "refunds",
         "publish_report": "publish"}


def colour(state) -> str:
    return to_hex(STATE_COLOURS.get(state, "white"))


def _dark(fill: str) -> bool:
    r, g, b = to_rgb(fill)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45   # relative luminance, roughly


states_at = model.states_at


class DagPanel(Panel):
    """The DAG as networkx lays it out, each task coloured by its state in the watched run."""

    def __init__(self, ax, box):
        super().__init__(ax, box, "DAG nightly_revenue (the watched run)")
        g = model.revenue_dag().graph
        # networkx's generations in layers left to right; in a layer, the DAG's own order top down
        # (multipartite_layout groups a layer as a set: its order would change with the hash seed)
        order = {n: i for i, n in enumerate(g.nodes)}
        pos = {n: (layer, -k + (len(nodes) - 1) / 2)
               for layer, nodes in enumerate(nx.topological_generations(g))
               for k, n in enumerate(sorted(nodes, key=order.get))}
        xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
        fit = lambda v, lo, hi, a, b: a + (v - lo) / ((hi - lo) or 1) * (b - a)   # noqa: E731
        self.pos = {n: (fit(x, min(xs), max(xs), self.x + 7, self.x + self.w - 7),
                        fit(y, min(ys), max(ys), self.y + 5, self.y + self.h - 9)) for n, (x, y) in pos.items()}
        for a, b in g.edges:   # from the right edge of a task's box to the left edge of the next one's
            (xa, ya), (xb, yb) = self.pos[a], self.pos[b]
            ax.annotate("", (xb - 6, yb), (xa + 6, ya), arrowprops=dict(arrowstyle="-|>", color=MUTED, lw=1,
                                                                        shrinkA=0, shrinkB=1), zorder=2)
        self.boxes, self.names, self.states = {}, {}, {}
        for n, (x, y) in self.pos.items():
            self.boxes[n] = self.moving(ax.add_patch(FancyBboxPatch((x - 6, y - 1.8), 12, 3.6, zorder=3, ec=INK, lw=0.8,
                                                                    boxstyle="round,pad=0,rounding_size=0.6")))
            self.names[n] = self.moving(ax.text(x, y + 0.5, n, ha="center", va="center", fontsize=8, color=INK, zorder=4))
            self.states[n] = self.moving(ax.text(x, y - 1.0, "", ha="center", va="center", fontsize=8, color=INK, zorder=4))
        self.run_text = self.text(1, self.h - 1.4, "", fontsize=8, color=MUTED)
        self.sched = self.text(1, 3.0, "", fontsize=9, fontweight="bold")

    def update(self, run, frame):
        s = states_at(run, frame)
        rid = run.workflow_id
        for n in self.boxes:
            state = s.get((rid, n))
            self.boxes[n].set_facecolor(colour(state))
            ink = "white" if _dark(colour(state)) else INK   # Airflow's green and red take white text
            self.names[n].set_color(ink)
            self.states[n].set_color(ink)
            self.states[n].set_text(state or ("none" if (rid, None) in s else ""))
        day = rid.split("__")[1][5:10] if rid else ""
        self.run_text.set_text(f"run {day}: {s.get((rid, None), 'not created yet')}" if rid else "no watched run")
        who = frame.extra.get("scheduler", "up")
        self.sched.set_text({"up": "scheduler: up", "down": "scheduler: DOWN (outage)",
                             "dead": "scheduler: KILLED"}[who])
        self.sched.set_color(INK if who == "up" else DANGER)


class GridPanel(Panel):
    """Airflow's grid view: a column per DAG run, a row per task, each square its state's colour."""

    def __init__(self, ax, box, columns=9):
        super().__init__(ax, box, "grid: runs x tasks (Airflow's colours)")
        self.cols, cw, top = columns, (self.w - 13) / columns, self.y + self.h - 4.6
        self.heads = [self.text(12 + cw * (i + 0.5), 2.6, "", fontsize=7, ha="center") for i in range(columns)]
        corners = []
        for r, name in enumerate(["run"] + TASKS):
            self.label(1, 5.8 + 3.0 * r, SHORT.get(name, name), fontsize=8)
            for i in range(columns):
                x0, y0 = self.x + 12 + cw * i + 0.3, top - 3.0 * (r + 1) + 0.3
                corners.append([(x0, y0), (x0 + cw - 0.6, y0), (x0 + cw - 0.6, y0 + 2.4), (x0, y0 + 2.4)])
        # the squares as one collection, row by row: one draw call a frame; an empty column draws nothing
        self.cells = self.moving(ax.add_collection(PolyCollection(corners, facecolors="none", edgecolors="none",
                                                                  linewidths=0.5, zorder=3)))
        legend = ["success", "running", "queued", "up_for_retry", "failed", "upstream_failed", "skipped"]
        for i, st in enumerate(legend):
            x = self.x + 1 + (i % 4) * (self.w - 2) / 4
            y = self.y + 4.0 - 2.2 * (i // 4)
            ax.add_patch(Rectangle((x, y - 0.7), 1.4, 1.4, fc=colour(st), ec=MUTED, lw=0.5, zorder=3))
            ax.text(x + 1.9, y, st, fontsize=7, va="center", color=INK, zorder=3)

    def update(self, run, frame):
        s = states_at(run, frame)
        runs = [rid for (rid, tid), _ in s.items() if tid is None]
        runs = sorted(dict.fromkeys(runs))[-self.cols:]
        columns = [runs[i] if i < len(runs) else None for i in range(self.cols)]
        for head, rid in zip(self.heads, columns):
            head.set_text(rid.split("__")[1][5:10] if rid else "")
            head.set_color(DANGER if rid == run.workflow_id else INK)
        rows = [None] + TASKS
        self.cells.set_facecolor([colour(s.get((rid, tid))) if rid else "none" for tid in rows for rid in columns])
        self.cells.set_edgecolor([MUTED if rid else "none" for _ in rows for rid in columns])


@lru_cache(maxsize=16)
def ghost_runs(timetable: str, catchup: bool, outage: str) -> tuple:
    """The runs the other timetable kind would have created, for the greyed row: a scheduler run of its
    own, the same for the same three controls, so it is kept."""
    up = [(model.EPOCH, model.DOWN), (model.BACK, model.END)] if outage == "3 days" else [(model.EPOCH, model.END)]
    return tuple(created_runs(model.revenue_dag(timetable, catchup), up))


class IntervalTimeline(PlotPanel):
    """Each run's data interval (a bar; zero width: a diamond) and the moment it was created (a dot),
    for this timetable and, greyed beneath, the other one; the outage shaded."""

    def prepare(self, run):
        super().prepare(run)
        p, c = self.plot, run.controls
        other = "trigger" if c["timetable"] == "data_interval" else "data_interval"
        ghost = ghost_runs(other, c["catchup"], c["outage"])
        ours = [(parse(r["logical_date"]), parse(r["data_interval_start"]), parse(r["data_interval_end"]),
                 parse(r["created"])) for r in run.meta.runs()]
        s = lambda d: (d - model.EPOCH).total_seconds()   # noqa: E731
        if c["outage"] == "3 days":
            self.drawn.append(p.axvspan(s(model.DOWN), s(model.BACK), color="#e4e7eb", lw=0, zorder=0))
        nan = float("nan")
        for row, runs, alpha in ((1, ours, 1.0), (0, ghost, 0.45)):   # a few artists a row, not a few a run
            zero = [s(a) for _, a, b, _ in runs if a == b]
            bars = [(s(a) + 1800, s(b) - s(a) - 3600) for _, a, b, _ in runs if a != b]
            if zero:
                self.drawn.append(line(p, zero, [row + 0.18] * len(zero), marker="D", ms=5, color="#2f80ed",
                                       alpha=alpha, lw=0))
            if bars:
                self.drawn.append(p.broken_barh(bars, (row + 0.05, 0.26), alpha=alpha, lw=0,
                                                color=[("#2f80ed", "#56ccf2")[k % 2] for k in range(len(bars))]))
            xs = [x for _, _, b, made in runs for x in (s(b), s(made), nan)]
            ys = [y for _ in runs for y in (row + 0.05, row - 0.18, nan)]
            self.drawn.append(line(p, xs, ys, color=MUTED, lw=0.6, alpha=alpha))
            made = [s(m) for *_, m in runs]
            self.drawn.append(line(p, made, [row - 0.18] * len(made), marker="o", ms=4, color=INK, alpha=alpha, lw=0))
        p.set_yticks([1, 0], [f"{c['timetable']} (this run)", f"{other}"], fontsize=7, color=INK)
        days = [s(model.EPOCH) + 86400 * d for d in range(8)]
        p.set_xticks(days, [f"03-{d + 1:02d}" for d in range(8)], fontsize=7)
        p.set_xlim(0, s(model.END))
        p.set_ylim(-0.5, 1.5)
        p.set_xlabel("bar/diamond: data interval · dot: when the run was created · grey: scheduler down",
                     fontsize=7, color=MUTED)


class S12Diagram(Diagram):
    size = (10.0, 4.4)

    def when(self, frame) -> str:
        return (model.EPOCH + timedelta(seconds=frame.t)).strftime("%a %m-%d %H:%M")

    clock_text = when
    caption_x = 14.5

    def build(self, ax):
        dag = DagPanel(ax, (1, 22, 47, 24.5))
        yield dag
        yield Skull(ax, (dag.x + dag.w - 5, dag.y + 4), 0.5)
        yield GridPanel(ax, (49, 22, 50, 24.5))
        yield IntervalTimeline(ax, (1, 1, 98, 20), "the timetable: data intervals against the time each run ran",
                               None, left=14.0)


def code_panels(run, frame) -> str:
    """The task that runs at this frame, with the line that reads or writes the data lit."""
    publish = model.publish_append if run.controls["publish"] == "append" else model.publish_overwrite
    fns = dict(zip(TASKS, (model.extract_orders, model.compute_revenue, model.compute_refunds, publish)))
    out = []
    for tid, fn in fns.items():
        src = source_of(fn)
        lit = max(i for i, line in enumerate(src.splitlines(), 1) if "execute(" in line) if frame.step == tid else None
        note = (f"{run.controls['publish']} mode: a re-run " + ("adds a row" if publish is model.publish_append
                                                                else "replaces the partition")) \
            if tid == "publish_report" else "reads the run's data interval"
        out.append(code_html(tid, note, src, lit, crashed=frame.skull and lit is not None))
    out.append(code_html("revenue_dag", "the DAG: four tasks, retries=1, retry_delay=5 min",
                         source_of(model.revenue_dag), engine=True))
    return "".join(out)


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S12Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(timetable="trigger", catchup=False)`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def timetables(catchup=True, outage="3 days"):
    """The same '@daily' schedule under both timetable kinds, side by side."""
    print("\n".join(model.timetables_side_by_side(catchup, outage)))


def metadata(**controls):
    """Open the run's metadata database with sqlite3 and print its dag_run rows, as a learner would."""
    import sqlite3
    run = model.simulate(**controls)
    db = sqlite3.connect(run.home / "metadata.sqlite")
    print(run.home / "metadata.sqlite")
    for row in db.execute("SELECT run_id, data_interval_start, data_interval_end, state FROM dag_run ORDER BY logical_date"):
        print(" | ".join(map(str, row)))


def show_code():
    """Print the tasks, as the scheduler runs them."""
    for fn in (model.compute_revenue, model.publish_append, model.publish_overwrite):
        print(source_of(fn))
