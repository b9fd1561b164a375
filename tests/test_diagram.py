"""The diagram kit draws labels from its own caches (scenes.kit.diagram): the pixels must be the ones
matplotlib's own Agg text drawing gives, for every kind of label the scenes use."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenes.kit.diagram import Canvas, draw_label

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
