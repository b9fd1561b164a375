"""The diagram kit draws labels from its own caches (scenes.kit.diagram): the pixels must be the ones
matplotlib's own Agg text drawing gives, for every kind of label the scenes use."""
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenes.kit.diagram import Canvas, draw_label
from simcore import scenarios

LABELS = [   # (x, y, text, options)
    (5, 45, "ORDER #1001  $42.00", {}),
    (50, 40, "right\naligned lines", dict(ha="right", family="DejaVu Sans Mono")),
    (30, 20, "rotated", dict(rotation=30, fontsize=12)),
    (70, 10, "centre, bold", dict(ha="center", va="center", weight="bold", color="#c0392b")),
    (10, 8, "top, small", dict(va="top", fontsize=7, alpha=0.5)),
]


def pixels(canvas_class, draw):
    figure = Figure(figsize=(4, 2), dpi=80)
    canvas = canvas_class(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 50)
    ax.set_axis_off()
    texts = [ax.text(x, y, s, **kw) for x, y, s, kw in LABELS]
    if draw is None:       # matplotlib draws everything
        canvas.draw()
    else:                  # the background without the labels, then the labels the kit's way
        for t in texts:
            t.set_visible(False)
        canvas.draw()
        for t in texts:
            t.set_visible(True)
        renderer = canvas.get_renderer()
        for t in texts:
            draw(t, renderer)
    return np.asarray(canvas.buffer_rgba()).copy()


def test_labels_drawn_from_the_cache_are_the_pixels_matplotlib_draws():
    expected = pixels(FigureCanvasAgg, None)
    first = pixels(Canvas, draw_label)    # laid out and cached
    again = pixels(Canvas, draw_label)    # every label now comes from the caches
    assert expected.any() and (expected != 255).any()
    assert np.array_equal(first, expected)
    assert np.array_equal(again, expected)


# -- the history panel's fold: hand-made histories, with the event classes of simcore/events.py -------------
from simcore import events as ev  # noqa: E402
from scenes.kit.panels import history_rows, row_of  # noqa: E402


def workflow_task(first: int, worker: str = "worker-1", end=ev.WorkflowTaskCompleted) -> list:
    scheduled = ev.WorkflowTaskScheduled(first, 0.0, "orders", 10.0)
    started = ev.WorkflowTaskStarted(first + 1, 0.0, first, worker)
    if end is None:
        return [scheduled, started]
    if end is ev.WorkflowTaskCompleted:
        return [scheduled, started, ev.WorkflowTaskCompleted(first + 2, 0.0, first, first + 1, worker)]
    return [scheduled, started, ev.WorkflowTaskTimedOut(first + 2, 0.0, first, first + 1, "START_TO_CLOSE")]


def test_a_workflow_task_folds_into_one_row_and_unfolds_on_request():
    history = [ev.WorkflowExecutionStarted(1, 0.0, "fulfill_order", "order-1001", ["1001", 4200]), *workflow_task(2),
               ev.ActivityTaskScheduled(5, 0.0, "1", "ChargeCard", ["1001", 4200]),
               ev.ActivityTaskStarted(6, 0.0, 5, 1), ev.ActivityTaskCompleted(7, 0.0, 5, "char_1"),
               *workflow_task(8, "worker-2")]
    rows = history_rows(history)
    assert [text for _, text in rows] == [
        ' 1 WorkflowExecutionStarted fulfill_order(["1001",4200])', " 2-4 workflow task \u00b7 worker-1",
        " 5 ActivityTaskScheduled ChargeCard", " 6 ActivityTaskStarted #5 attempt 1",
        " 7 ActivityTaskCompleted #5 -> 'char_1'", " 8-10 workflow task \u00b7 worker-2"]
    assert [ids for ids, _ in rows] == [(1,), (2, 3, 4), (5,), (6,), (7,), (8, 9, 10)]
    assert row_of(rows, 3) == 1 and row_of(rows, 9) == 5    # a replay cursor on a folded event finds its row
    every = history_rows(history, fold=False)
    assert [ids for ids, _ in every] == [(i,) for i in range(1, 11)]
    assert every[1][1] == " 2 WorkflowTaskScheduled" and every[2][1] == " 3 WorkflowTaskStarted by worker-1"


def test_a_running_or_timed_out_workflow_task_says_so():
    running = history_rows(workflow_task(1, end=None))
    assert running == [((1, 2), " 1-2 workflow task \u00b7 worker-1, running")]
    timed_out = history_rows(workflow_task(1, end=ev.WorkflowTaskTimedOut))
    assert [ids for ids, _ in timed_out] == [(1, 2), (3,)]   # the incident keeps a row of its own
    assert timed_out[1][1] == " 3 WorkflowTaskTimedOut START_TO_CLOSE"
    lone = history_rows([ev.WorkflowTaskScheduled(1, 0.0, "orders", 10.0)])
    assert lone == [((1,), " 1 WorkflowTaskScheduled")]


def test_the_history_panel_says_it_folds_and_the_toggle_lists_every_event():
    """And how many rows it has no room for (it left them out without a word)."""
    from scenes import s01
    from scenes.kit.panels import history_rows
    view = s01.Scene(strategy="durable", crash_after="none")
    panel = view.histories[0]
    history = view.run.history
    assert any(e.type == "WorkflowTaskScheduled" for e in history), "the engine records workflow tasks"
    view.goto(len(view.run.frames) - 1)
    shown = [r.get_text() for r in panel.rows if r.get_text()]
    above = len(history_rows(history)) - len(panel.rows)   # the last rows shown: the first ones have no room
    assert panel.note.get_text() == f"workflow tasks folded \u00b7 {above} rows above"
    assert any("workflow task \u00b7 " in t for t in shown)
    view.every_event.value = True   # as a click would
    shown = [r.get_text() for r in panel.rows if r.get_text()]
    assert panel.note.get_text() == f"{len(history) - len(panel.rows)} rows above"
    assert not any("workflow task \u00b7 " in t for t in shown)
    assert any("WorkflowTaskStarted by " in t for t in shown) or any("WorkflowTaskCompleted" in t for t in shown)


# -- the PNG: only changed bands compressed again, the same bytes whatever came before ----------------
def test_the_png_encoder_gives_the_pixels_and_the_same_bytes_whatever_came_before():
    import io

    from PIL import Image

    from scenes.kit.diagram import PngEncoder
    rng = np.random.default_rng(0)
    base = np.full((70, 48, 4), 255, np.uint8)   # 70 rows: four bands of 16 and a short one of 6
    base[10:30, 5:20, :3] = rng.integers(0, 255, (20, 15, 3))
    encoder, frames = PngEncoder(), []
    for change in [(0, 0), (33, 40), (69, 47), (20, 3), None, (65, 1)]:
        frame = (frames[-1] if frames else base).copy()
        if change:
            frame[change[0], change[1], :3] = rng.integers(0, 255, 3)
        frames.append(frame)
        png = encoder.encode(frame)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), frame)
        assert png == PngEncoder().encode(frame)   # a fresh encoder, with no bands kept


def test_a_background_drawn_with_kept_layouts_is_the_pixels_matplotlib_draws():
    from matplotlib.text import Text

    from scenes.kit.diagram import layouts_kept

    def draw(kept: bool):
        figure = Figure(figsize=(4, 2), dpi=80)
        canvas = Canvas(figure)
        ax = figure.add_axes((0.15, 0.2, 0.8, 0.7))
        ax.plot([0, 1, 2], [3, 1, 2])
        ax.set_yticks([1, 2, 3], ["one", "two", "three"])
        ax.text(1, 2, "centre\nlines", ha="center", va="center", rotation=20)
        ax.set_title("a title", loc="left")
        if kept:
            with layouts_kept():
                canvas.draw()
        else:
            canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()
    plain = draw(False)
    assert np.array_equal(draw(True), plain) and np.array_equal(draw(True), plain)   # laid out, then from the cache
    assert Text._get_layout.__module__ == "matplotlib.text"   # put back after the draw


# -- a new run's background: the base (drawn once) with the run's own artists and plots over it -----------
def whole_figure(diagram):
    """What the background was before the base: the whole figure drawn, the moving artists hidden."""
    from scenes.kit.diagram import layouts_kept
    canvas, shown = diagram.figure.canvas, [a.get_visible() for a in diagram.moving]
    for a in diagram.moving:
        a.set_visible(False)
    with layouts_kept():
        canvas.draw()
    for a, visible in zip(diagram.moving, shown):
        a.set_visible(visible)
    return np.asarray(canvas.buffer_rgba()).copy()


def test_a_new_runs_background_is_the_whole_figure_drawn_again():
    """Scene 05 adds per_run artists to the diagram's Axes (its timeline), scene 06 changes some (the
    policy's lines, a title) and has two plots: after each change of controls, the background is the
    pixels a whole draw of the figure gives, so nothing a run changes is missing from it."""
    from scenes import s05, s06
    for Scene, changes in ((s05.Scene, [dict(workers=2, orders=20), dict(workers=5, deploy="none")]),
                           (s06.Scene, [dict(orders=1, retry="backoff"), dict(orders=1, incident=60, fault="CardDeclined")])):
        view = Scene()
        for controls in changes:
            view.set_controls(**controls)
            d = view.diagram
            d.figure.canvas.restore_region(d.background)
            background = np.asarray(d.figure.canvas.buffer_rgba()).copy()
            assert np.array_equal(background, whole_figure(d)), (Scene.__module__, controls)


def test_a_view_runs_controls_it_has_seen_once(monkeypatch):
    from scenes import s04
    calls, simulate = [], s04.model.simulate
    monkeypatch.setattr(s04.model, "simulate", lambda **c: calls.append(c) or simulate(**c))
    view = s04.Scene()
    first, control = view.run, s04.model.CONTROLS[0]
    view.set_controls(**{control.name: next(c for c in control.choices if c != control.default)})
    view.set_controls(**{control.name: control.default})
    assert len(calls) == 2 and view.run is first   # back to the opening controls: the run kept, not run again


def test_the_veil_copied_is_the_veil_agg_draws(monkeypatch):
    """Scene 06's plots veil the future by copying pixels veiled once per run: the same pixels as the
    rectangle Agg blends, at every cursor position (the cursor hidden), over two runs."""
    import io

    from matplotlib.patches import Rectangle
    from PIL import Image

    from scenes import s06
    from scenes.kit.plots import Veil

    def frames(view):
        for panel in view.diagram.panels:   # the cursor would hide the veil's edge
            if hasattr(panel, "cursor"):
                panel.cursor.set_visible(False)
        got = []
        for controls in (dict(orders=1, incident=10), dict(orders=1, retry="backoff", fault="ShipPackage hangs")):
            view.set_controls(**controls)
            for i in range(0, len(view.run.frames), 3):
                view.goto(i)
                got.append(np.asarray(Image.open(io.BytesIO(bytes(view.image.value)))))
        return got
    copied = frames(s06.Scene())
    monkeypatch.setattr(Veil, "draw", Rectangle.draw)
    drawn = frames(s06.Scene())
    assert len(copied) == len(drawn) > 10
    assert all(np.array_equal(a, b) for a, b in zip(copied, drawn))


def test_a_process_killed_between_steps_gets_its_skull_between_them_over_no_label():
    from matplotlib.transforms import Bbox

    from scenes import s09
    from scenes.kit.panels import ProcessBox
    view = s09.Scene(cancel="after_shipping", workers="down")   # killed while it waits out the 14-day window
    crash = next(i for i, f in enumerate(view.run.frames) if f.skull)
    view.goto(crash)
    box = next(p for p in view.diagram.panels if isinstance(p, ProcessBox))
    renderer = box.ax.figure.canvas.get_renderer()
    skull = Bbox.union([part.get_window_extent(renderer) for part in (box.skull.cranium, box.skull.jaw)])
    labels = [label.get_window_extent(renderer) for label in box.labels]
    assert box.skull.cranium.get_visible() and not any(skull.overlaps(label) for label in labels)
    shipped, next_step = labels[2], labels[3]   # ShipPackage is done, RefundCard is not begun
    assert next_step.y1 <= (skull.y0 + skull.y1) / 2 <= shipped.y0   # between their rows


@pytest.mark.parametrize("number", sorted(scenarios.MODULES))
def test_the_skull_covers_no_text_of_the_steps(number):
    """At the crash, for the scene's default controls and a few that give every control each of its
    values, the skull covers neither a step's label nor a line a scene writes under it (scene 02's
    "recorded, never happened" was under the skull)."""
    import importlib

    from matplotlib.transforms import Bbox

    from scenes.kit.panels import ProcessBox
    view = importlib.import_module(f"scenes.{scenarios.MODULES[number]}").Scene()
    boxes = [p for p in view.diagram.panels if isinstance(p, ProcessBox)]
    if not boxes:
        pytest.skip("no process box in this scene")
    model = view.model
    every_value = [{c.name: c.choices[i % len(c.choices)] for c in model.CONTROLS}
                   for i in range(max(len(c.choices) for c in model.CONTROLS))]
    covered = set()
    for controls in [view.values, *every_value]:
        view.set_controls(**controls)
        for i in [i for i, f in enumerate(view.run.frames) if f.skull][:2]:
            view.goto(i)
            for box in boxes:
                if not box.skull.cranium.get_visible():
                    continue
                renderer = box.ax.figure.canvas.get_renderer()
                skull = Bbox.union([part.get_window_extent(renderer) for part in (box.skull.cranium, box.skull.jaw)])
                covered |= {(str(controls), t.get_text()) for k in range(len(box.steps)) for t in box.row_texts(k)
                            if t.get_visible() and t.get_text().strip() and skull.overlaps(t.get_window_extent(renderer))}
    assert not covered, covered


@pytest.mark.parametrize("number", sorted(scenarios.MODULES))
def test_no_text_runs_past_the_edge_of_its_panel(number):
    """At the first frame, the crash, the end and between, for the scene's default controls, two others
    and a few that between them give every control each of its values: every visible text anchored in a
    panel ends inside it, a plot's labels and ticks too (a long name once ran into the next panel, and
    scene 06's longest step name, shown only for one order, out of its plot's panel)."""
    import importlib
    import itertools
    import random

    from matplotlib.axes import Axes
    name = scenarios.MODULES[number]
    view = importlib.import_module(f"scenes.{name}").Scene()
    model = view.model
    combos = [dict(zip([c.name for c in model.CONTROLS], v)) for v in itertools.product(*[c.choices for c in model.CONTROLS])]
    random.Random(name).shuffle(combos)
    every_value = [{c.name: c.choices[i % len(c.choices)] for c in model.CONTROLS}
                   for i in range(max(len(c.choices) for c in model.CONTROLS))]
    panels = [p for p in view.diagram.panels if all(hasattr(p, a) for a in ("ax", "x", "y", "w", "h"))]
    spilled = set()
    for controls in [view.values, *combos[:2], *every_value]:
        view.set_controls(**controls)
        frames = view.run.frames
        crash = [i for i, f in enumerate(frames) if f.skull][:1]
        for i in sorted({0, len(frames) - 1, *crash, *range(0, len(frames), max(1, len(frames) // 4))}):
            view.goto(i)
            for p in panels:
                renderer = p.ax.figure.canvas.get_renderer()
                (x0, y0), (x1, y1) = p.ax.transData.transform([(p.x, p.y), (p.x + p.w, p.y + p.h)])
                anchors = p.ax.transData.transform([t.get_position() for t in p.ax.texts]) if p.ax.texts else []
                texts = [t for t, (tx, ty) in zip(p.ax.texts, anchors) if x0 <= tx <= x1 and y0 <= ty <= y1]
                plot = getattr(p, "plot", None)
                if isinstance(plot, Axes):   # its texts, axis label and the tick labels it draws (within its limits)
                    (lo, hi), (bottom, top) = sorted(plot.get_xlim()), sorted(plot.get_ylim())
                    texts += plot.texts + [plot.xaxis.label, plot.yaxis.label]
                    texts += [t for t in plot.get_xticklabels() if lo <= t.get_position()[0] <= hi]
                    texts += [t for t in plot.get_yticklabels() if bottom <= t.get_position()[1] <= top]
                for t in texts:
                    if t.get_visible() and t.get_text().strip():
                        e = t.get_window_extent(renderer)
                        if e.x0 < x0 - 2 or e.x1 > x1 + 2 or e.y0 < y0 - 2 or e.y1 > y1 + 2:
                            spilled.add((type(p).__name__, t.get_text()))
    assert not spilled, spilled


def test_a_caption_is_whole_when_it_fits_and_cut_after_a_word_with_an_ellipsis_when_not():
    """Scene 12's clock says the day, so its captions start further right: a long one was cut by a count
    of characters, mid-word and unmarked ("... (run 03-05, try"), well short of the edge."""
    from scenes import s12
    view = s12.Scene()
    d, frames = view.diagram, view.run.frames
    renderer, edge = d.figure.canvas.get_renderer(), d.ax.transData.transform((99.5, 0))[0]
    by_length = sorted(range(len(frames)), key=lambda i: len(frames[i].caption))
    view.goto(by_length[0])
    assert d.caption.get_text() == frames[by_length[0]].caption   # short: whole
    view.goto(by_length[-1])
    shown, caption = d.caption.get_text(), frames[by_length[-1]].caption
    assert d.caption.get_window_extent(renderer).x1 <= edge
    assert shown.endswith(" \u2026") and caption.startswith(shown[:-2] + " ")   # cut after a whole word
    d.caption.set_text(" ".join(caption.split(" ")[:len(shown[:-2].split(" ")) + 1]) + " \u2026")
    assert d.caption.get_window_extent(renderer).x1 > edge   # and one word more would not have fitted


def test_no_two_message_labels_of_the_sequence_overlap():
    """Scene 07: a reply that leaves the card network where its request arrived was labelled above its
    line, on top of the request's label ("#1 charge · key ..." over "#1 -> char_1", 103 x 11 px)."""
    import itertools

    from scenes import s07
    from scenes.kit.sequence import SequencePanel
    view = s07.Scene()
    panel = next(p for p in view.diagram.panels if isinstance(p, SequencePanel))
    renderer = view.diagram.figure.canvas.get_renderer()
    crowded = set()
    for values in itertools.product(*[c.choices for c in s07.model.CONTROLS]):
        view.set_controls(**dict(zip([c.name for c in s07.model.CONTROLS], values)))
        for i in range(len(view.run.frames)):
            view.goto(i)
            shown = [(t.get_text(), t.get_window_extent(renderer)) for t, m in zip(panel.labels, panel.messages)
                     if t.get_visible() and not m.get("curve")]   # (a curve's label is boxed askew: not comparable)
            for (a, ea), (b, eb) in itertools.combinations(shown, 2):
                if min(ea.x1, eb.x1) - max(ea.x0, eb.x0) > 4 and min(ea.y1, eb.y1) - max(ea.y0, eb.y0) > 4:
                    crowded.add((values, a, b))
    assert not crowded, sorted(crowded)[:5]


@pytest.mark.parametrize("scene, controls", [("03", {}), ("11", {})])
def test_the_stuck_banner_takes_the_captions_place_and_leaves_the_clock_readable(scene, controls):
    """The replay-refused banner was centred across the whole top, over the clock (scenes 03, 11): a
    learner lost the moment's time at the moment itself. It starts where the caption does, keeps its
    box inside the figure, and holds the engine's error in at most two lines."""
    import importlib
    view = importlib.import_module(f"scenes.s{scene}").Scene(**controls)
    d, frames = view.diagram, view.run.frames
    view.goto(next(i for i, f in enumerate(frames) if f.caption.startswith("STUCK")))
    renderer = d.figure.canvas.get_renderer()
    banner, clock = d.banner.get_bbox_patch().get_window_extent(renderer), d.clock.get_window_extent(renderer)
    assert d.banner.get_visible() and d.clock.get_text()
    assert banner.x0 > clock.x1, (banner, clock)
    assert banner.x1 <= d.figure.bbox.x1
    text = d.banner.get_text()
    assert 1 <= text.count("\n") + 1 <= 2
    words = text.replace("\n", " ").removesuffix(" \u2026").split(" ")
    assert frames[view.index].caption.split(" ")[:len(words)] == words   # whole words, in order


def test_every_control_shows_a_label_of_its_own_meaning():
    """A value the controls share ("ok", "after_shipping") is labelled per control where it means
    something else, and a value that is not text (the fence's True) finds its label too."""
    from scenes.kit import labels
    assert labels.label("fence", True) == "range-id fence on" and labels.label("fence", False) == "fence off"
    assert labels.label("refunds", "ok") == "fine" and labels.label("charge", "ok") == "answered"
    assert "day 1" in labels.tooltip("update", "after_shipping") and "day 2" in labels.tooltip("cancel", "after_shipping")
