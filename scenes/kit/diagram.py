"""A scene's diagram: one Agg figure whose panels update in place, rendered to PNG bytes.

Agg and PNG bytes work everywhere the course runs (JupyterLab, Voila, nbval, a headless browser);
an interactive backend would not. What never changes (panel frames, titles) is drawn once and kept
as a bitmap; each frame restores it and draws only the artists that move, then encodes the PNG
itself (see `png`).

Text is most of what moves, and matplotlib lays every label out again on every draw: FreeType
places its glyphs (about 0.3 ms a string, twice: once to measure, once to draw), then `Text.draw`
works out where each line goes. Both depend on the string and its font, not on the frame, so the
canvas here keeps them (`Renderer`, `draw_label`): a label seen before (a title, a step, a history
row that scrolled, a value that came back) is copied onto the canvas, pixel for pixel what Agg
would draw. A frame then costs what is new in it, plus the PNG.

Size: the figure is drawn at twice the pixels it is shown at (`SHOWN`: the width, in CSS pixels, a
1366 x 768 window gives it), so it stays sharp on a high-density screen and at 200 % zoom, and no
text is smaller than `MIN_PT` points, 12 CSS pixels at the narrowest width it is shown at (`NARROWEST`).
The PNG is encoded a band of rows at a time and a band that did not change is not compressed again
(`PngEncoder`), with ISA-L's deflate when the `isal` package is there (zlib's level 1 was most of a
frame at this size: 20 ms for a whole image, 4 ms with ISA-L). Splitting bands into columns as well
(a cursor moves in a narrow strip) was measured and was slower: a deflate stream per piece costs
more than the bytes it saves. Drawing a whole figure (a new run's background) and drawing a boxed
label lay each `Text` out once (`layouts_kept`): tick labels and titles are most of a background.
"""
from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from math import cos, radians, sin

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from .panels import DANGER, INK, MUTED

try:   # ISA-L's deflate (the `isal` package): five times zlib's speed at level 1 on these bitmaps, and
    from isal import isal_zlib as deflate   # smaller output (4 ms a full 2400 x 1056 image against 20 ms)
except ImportError:   # pragma: no cover - zlib writes the same pixels, slower
    deflate = zlib

CACHED = 4000   # strings (and layouts) kept; past that the cache starts again: a few MB at most
SHOWN = 1200       # CSS px: the width the diagram is laid out for (a 1366 x 768 window, sidebar closed)
NARROWEST = 1100   # CSS px: the narrowest it is shown at there (the browser tests check it)
WIDTH_IN = 10.0    # inches across every scene's figure
MIN_PT = 8.0       # 12 CSS px at NARROWEST: 12 * 72 * WIDTH_IN / NARROWEST = 7.85, rounded up


class Diagram:
    """Subclasses add panels in `build(ax)`; `render` updates them all for one frame."""

    caption_x = 12            # where the caption starts, right of the clock (a clock that says the day is longer)
    size = (WIDTH_IN, 4.4)     # inches: wide enough that the diagram, the player and the lit code line
    dpi = 2 * SHOWN / WIDTH_IN  # fit a 768 px high window; twice the pixels it is shown at: 2400 x 1056

    def __init__(self):
        self.figure = Figure(figsize=self.size, dpi=self.dpi)
        Canvas(self.figure)
        ax = self.figure.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 50)
        ax.set_axis_off()
        self.ax = ax
        self.clock = ax.text(1.5, 48.8, "", fontsize=9, color=MUTED, va="top", family="DejaVu Sans Mono")
        self.caption = ax.text(self.caption_x, 48.8, "", fontsize=10, color=INK, va="top")
        # replay refused: the engine's error in red, in the caption's place (scene 03's non-determinism)
        self.banner = ax.text(self.caption_x - 0.5, 49.6, "", fontsize=10, color="white", fontweight="bold", va="top",
                              zorder=20, visible=False, linespacing=1.3,
                              bbox=dict(boxstyle="round,pad=0.45", fc=DANGER, ec="none"))
        self.panels = list(self.build(ax))
        moving = [self.clock, self.caption, self.banner] + [a for p in self.panels for a in getattr(p, "dynamic", ())]
        self.moving = sorted(moving, key=lambda a: a.get_zorder())
        self._prepared = None
        self.places, self._placed = {}, None   # where a label on the diagram's Axes lands, for its transform now
        self.encoder = PngEncoder()
        self._fits: dict[tuple, str] = {}   # (text, id of its artist) -> as much of it as fits the width
        self._draw_base()
        self._draw_background()

    def _per_run(self) -> list:
        """The diagram's own artists that a run changes (each panel's `per_run`), in the order its Axes
        draws them: by zorder, then as they were added."""
        added = {id(a): i for i, a in enumerate(self.ax.get_children())}
        return sorted((a for p in self.panels for a in getattr(p, "per_run", ())),
                      key=lambda a: (a.get_zorder(), added[id(a)]))

    def _draw_base(self) -> None:
        """Draw what no run changes (the panels' frames, titles, labels), once, and keep the bitmap."""
        readable(self.figure.findobj(Text))   # no label smaller than MIN_PT, whoever made it
        with hidden(self.moving + self._per_run() + self.figure.axes[1:]), layouts_kept():
            self.figure.canvas.draw()
        self.base = self.background = self.figure.canvas.copy_from_bbox(self.figure.bbox)

    def _draw_background(self) -> None:
        """The run's background: the base, then what the run changes over it (the panels' `per_run`
        artists, then the plots, each a whole Axes drawn after the diagram's, as the figure draws them)."""
        per_run, plots = self._per_run(), self.figure.axes[1:]
        if not per_run and not plots:
            self.background = self.base
            return
        readable([a for a in per_run if isinstance(a, Text)] + [t for p in plots for t in p.findobj(Text)])
        canvas = self.figure.canvas
        canvas.restore_region(self.base)
        renderer = canvas.get_renderer()
        with hidden(self.moving), layouts_kept():
            for artist in per_run:
                if artist.get_visible():
                    artist.draw(renderer)
            for plot in plots:
                plot.draw(renderer)
        self.background = canvas.copy_from_bbox(self.figure.bbox)

    def _fitted(self, text: str, artist=None, lines: int = 1) -> str:
        """As much of `text` as fits, in `lines` lines or fewer, between where `artist` (the caption,
        unless named) starts and the figure's right edge: whole, or cut after a word and marked with an
        ellipsis (the player's line and its tooltip give it whole). Each line takes the most words that
        fit, measured in the artist's own font; once per text."""
        artist = artist or self.caption
        fitted = self._fits.get((text, id(artist)))
        if fitted is None:
            if len(self._fits) >= CACHED:
                self._fits.clear()
            renderer, right = self.figure.canvas.get_renderer(), self.ax.transData.transform((99.5, 0))[0]
            if artist.get_bbox_patch() is not None:   # a boxed text keeps its box inside the edge too
                right -= artist.get_bbox_patch().get_boxstyle().pad * artist.get_fontsize() * self.dpi / 72

            def fits(line: str) -> bool:
                artist.set_text(line)
                return artist.get_window_extent(renderer).x1 <= right
            words, done = text.split(" "), []
            while words:
                last = len(done) == lines - 1
                if fits(" ".join(words)):
                    done.append(" ".join(words))
                    break
                mark = " \u2026" if last else ""
                lo, hi = 0 if last else 1, len(words) - 1   # the most words that fit (at least one, but on the last)
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    lo, hi = (mid, hi) if fits(" ".join(words[:mid]) + mark) else (lo, mid - 1)
                done.append(" ".join(words[:lo]) + mark)
                words = [] if last else words[lo:]
            fitted = self._fits[text, id(artist)] = "\n".join(done)
        return fitted

    def build(self, ax):
        """Yield the panels: objects with `update(run, frame)`, a `dynamic` list of the artists that
        move, and optionally `prepare(run)` for what depends on the run only (a curve, a strip of
        states), which then goes into the background bitmap once per run rather than once per frame.
        An artist of the diagram's Axes that `prepare` makes or changes must be in the panel's
        `per_run` list: the rest is drawn once, when the diagram is made. A plot (an Axes of its own)
        is drawn whole with each run's background."""
        return []

    def clock_text(self, frame) -> str:
        """The clock in the top-left corner (fixed width, so it does not jitter as it counts)."""
        return f"t={frame.t:6.2f}s"

    def when(self, frame) -> str:
        """The frame's moment in words, for the player and the "so far" line. A scene that spans days
        says the day (and draws it as its clock too)."""
        return f"t={frame.t:g}s"

    def render(self, run, index: int) -> bytes:
        if run is not self._prepared and any(hasattr(p, "prepare") for p in self.panels):
            for panel in self.panels:
                if hasattr(panel, "prepare"):
                    panel.prepare(run)
            self._draw_background()
        self._prepared = run
        frame = run.frames[index]
        self.clock.set_text(self.clock_text(frame))
        self.caption.set_text(self._fitted(frame.caption))
        stuck = frame.caption.startswith("STUCK")
        self.banner.set_visible(stuck)
        self.caption.set_visible(not stuck)
        if stuck:
            self.banner.set_text(self._fitted(frame.caption, self.banner, lines=2))
        for panel in self.panels:
            panel.update(run, frame)
        canvas = self.figure.canvas
        canvas.restore_region(self.background)
        renderer = canvas.get_renderer()
        placed = self.ax.transData.get_affine().get_matrix().tobytes()   # (it does not change: the limits are fixed)
        if placed != self._placed:
            self.places, self._placed = {}, placed
        with layouts_kept():   # (a label with a box is drawn by matplotlib, laid out once all the same)
            for artist in self.moving:
                if not artist.get_visible():
                    continue
                if isinstance(artist, Text):
                    readable([artist])
                    draw_label(artist, renderer, self.places if artist.get_transform() is self.ax.transData else None)
                else:
                    artist.draw(renderer)
        return self.encoder.encode(canvas.buffer_rgba())


def png(rgba) -> bytes:
    """PNG bytes of an RGBA bitmap, written directly: no row filters and zlib's fastest level. A
    diagram is mostly flat colour, so this is smaller than PIL's default output and takes about a
    third of the time (3 ms against 9 ms for 800 x 400). That is still about half of a frame, nearly
    all of it zlib; RGB instead of RGBA, zlib's RLE strategy and row filters were each slower."""
    pixels = np.asarray(rgba)
    height, width, _ = pixels.shape
    rows = np.zeros((height, width * 4 + 1), np.uint8)   # each row: filter byte 0 (none), then pixels
    rows[:, 1:] = pixels.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)   # 8 bits, RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


BASE = 65521   # Adler-32's modulus


def adler32_combine(a: int, b: int, length_b: int) -> int:
    """The Adler-32 of two byte strings joined, from each one's (zlib's `adler32_combine`)."""
    rem = length_b % BASE
    s1 = (a & 0xFFFF) + (b & 0xFFFF) + BASE - 1
    s2 = (rem * (a & 0xFFFF)) % BASE + (a >> 16) + (b >> 16) + BASE - rem
    return (s1 % BASE) | ((s2 % BASE) << 16)


class PngEncoder:
    """The PNG of a bitmap that changes a little from frame to frame. The image's rows go into one
    zlib stream, as PNG wants, but each band of `BAND` rows is compressed by a fresh compressor and
    ends on a byte boundary (a sync flush), so a band's compressed bytes do not depend on the bands
    before it: a band whose pixels did not change since the last frame reuses its bytes, and only the
    changed ones are compressed. The stream's checksum is combined from the bands' own. Same pixels,
    same bytes, whatever came before.

    The last frame's pixels are kept once, in the rows as they are compressed (each row: seven bytes
    of padding, PNG's filter byte, the pixels), so a frame is compared with them eight bytes at a time
    in one pass; a changed band is copied in, then out without the padding, to be compressed in one
    call."""

    BAND = 16
    POOL = ThreadPoolExecutor(2, thread_name_prefix="png")   # for zlib, which lets go of the GIL

    def __init__(self):
        self.shape = None

    def encode(self, rgba) -> bytes:
        pixels = np.asarray(rgba)
        height, width, _ = pixels.shape
        flat = pixels.reshape(height, width * 4)
        band, bands = self.BAND, -(-height // self.BAND)
        if flat.shape != self.shape or width % 2:
            self.shape = flat.shape
            self.rows = np.zeros((height, 8 + width * 4), np.uint8)   # padding, filter byte 0 (none), pixels
            self.bands: list = [None] * bands
            dirty = list(range(bands))
        else:   # which bands changed: one comparison over the image, eight bytes at a time
            now, was, full = flat.view(np.uint64), self.rows[:, 8:].view(np.uint64), height // band * band
            changed = (now[:full] != was[:full]).reshape(full // band, -1).any(axis=1).tolist()
            if full < height:   # a last band shorter than the others
                changed.append(not np.array_equal(now[full:], was[full:]))
            dirty = [i for i, c in enumerate(changed) if c]
        if dirty:
            work = []
            for i in dirty:
                top, bottom = i * band, min(height, (i + 1) * band)
                self.rows[top:bottom, 8:] = flat[top:bottom]
                work.append(self.rows[top:bottom, 7:].tobytes())   # each row: its filter byte, its pixels
            threads = deflate is zlib and len(work) > 8
            for i, packed in zip(dirty, self.POOL.map(_deflate, work) if threads else map(_deflate, work)):
                self.bands[i] = packed
            self.png = self._png(width, height)
        return self.png

    def _png(self, width, height) -> bytes:
        adler = 1
        for _, check, length in self.bands:
            adler = adler32_combine(adler, check, length)
        stream = b"".join([b"\x78\x01", *(b[0] for b in self.bands), b"\x03\x00", struct.pack(">I", adler)])
        header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)   # 8 bits, RGBA, no interlace
        return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


def _deflate(rows: bytes) -> tuple[bytes, int, int]:
    """A band's rows as raw deflate (no header), fastest level, ending in a sync flush (joinable with
    other bands); with the band's Adler-32 (ISA-L's when there: a quarter of zlib's time) and length.
    One call each for the whole band: a call a row was a tenth of the time."""
    c = deflate.compressobj(1, deflate.DEFLATED, -15)
    return c.compress(rows) + c.flush(deflate.Z_SYNC_FLUSH), deflate.adler32(rows), len(rows)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Canvas(FigureCanvasAgg):
    """An Agg canvas that draws with `Renderer`."""

    def get_renderer(self):
        key = (*self.figure.bbox.size, self.figure.dpi)
        if self._lastKey != key:
            self.renderer, self._lastKey = Renderer(*key), key
        return self.renderer


GLYPHS: dict = {}    # (string, font, dpi, antialiased) -> (bitmap, x and y offsets, descent, width, height)
LAYOUTS: dict = {}   # (string, font, alignment, rotation, spacing, ..., dpi) -> each line and its offset


class Renderer(RendererAgg):
    """`RendererAgg` that lays each string out with FreeType once, measuring it and drawing its
    bitmap in one go, and afterwards copies the bitmap: what `RendererAgg.draw_text` does, kept."""

    def _glyphs(self, s, prop, antialiased=True):
        key = (s, font_key(prop), self.dpi, antialiased)
        got = GLYPHS.get(key)
        if got is None:
            font = self._prepare_font(prop)
            font.set_text(s, 0, flags=get_hinting_flag())
            font.draw_glyphs_to_bitmap(antialiased=antialiased)
            (xo, yo), (w, h) = font.get_bitmap_offset(), font.get_width_height()
            got = np.array(font.get_image()), xo / 64, yo / 64, font.get_descent() / 64, w / 64, h / 64
            if len(GLYPHS) >= CACHED:
                GLYPHS.clear()
            GLYPHS[key] = got
        return got

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath is not False:
            return super().get_text_width_height_descent(s, prop, ismath)
        _, _, _, d, w, h = self._glyphs(s, prop)
        return w, h, d

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        image, xo, yo, d, _, _ = self._glyphs(s, prop, gc.get_antialiased())
        x = round(x + xo + d * sin(radians(angle)))
        y = round(y + yo + d * cos(radians(angle)))
        self._renderer.draw_text_image(image, x, y + 1, angle, gc)


def draw_label(text: Text, renderer, places: dict | None = None) -> None:
    """`Text.draw`, with the placing of each line remembered: it depends on the string, the font, the
    alignment and the rotation only, so a label is laid out once wherever and in whatever colour it
    is drawn again. A label with a box, wrapping, TeX or path effects is drawn by matplotlib.
    `places`: where each position of the label's transform lands, kept for a transform that never
    changes (working it out was a fifth of drawing a label)."""
    s = text.get_text()
    if not s:
        return
    if text.get_bbox_patch() or text.get_wrap() or text.get_usetex() or text.get_path_effects():
        text.draw(renderer)
        return
    prop, angle = text.get_fontproperties(), text.get_rotation()
    key = (s, font_key(prop), text.get_horizontalalignment(), text.get_verticalalignment(), angle,
           text.get_rotation_mode(), text._linespacing, text._get_multialignment(), text.get_parse_math(),
           renderer.dpi)
    lines = LAYOUTS.get(key)
    if lines is None:
        if len(LAYOUTS) >= CACHED:
            LAYOUTS.clear()
        lines = LAYOUTS[key] = [(x, y, *text._preprocess_math(line))
                                for line, _, x, y in text._get_layout(renderer)[1]]
    at = places.get(text.get_position()) if places is not None else None
    if at is None:
        at = tuple(text.get_transform().transform(text.get_unitless_position()))
        if places is not None:
            if len(places) >= CACHED:
                places.clear()
            places[text.get_position()] = at
    x0, y0 = at
    gc = renderer.new_gc()
    gc.set_foreground(text.get_color())
    gc.set_alpha(text.get_alpha())
    if hasattr(text, "get_antialiased"):   # matplotlib >= 3.8
        gc.set_antialiased(text.get_antialiased())
    text._set_gc_clip(gc)
    for x, y, line, ismath in lines:
        renderer.draw_text(gc, x0 + x, renderer.height - (y0 + y), line, prop, angle, ismath=ismath)
    gc.restore()


_GET_LAYOUT = Text._get_layout


def _kept_layout(text: Text, renderer):
    """`Text._get_layout`, remembered: the extent and the lines' offsets from the anchor depend on the
    string, the font, the alignment, the rotation and the dpi, not on where the text stands (wrapped
    text, which depends on where it stands, and TeX are laid out by matplotlib every time)."""
    if text.get_wrap() or text.get_usetex():
        return _GET_LAYOUT(text, renderer)
    key = ("extent", text.get_text(), font_key(text.get_fontproperties()), text.get_horizontalalignment(),
           text.get_verticalalignment(), text.get_rotation(), text.get_rotation_mode(), text._linespacing,
           text._get_multialignment(), text.get_parse_math(), text.get_figure(root=True).dpi)
    got = LAYOUTS.get(key)
    if got is None:
        if len(LAYOUTS) >= CACHED:
            LAYOUTS.clear()
        got = LAYOUTS[key] = _GET_LAYOUT(text, renderer)
    bbox, info, descent = got
    return Bbox(bbox.get_points().copy()), list(info), descent


def readable(texts) -> None:
    """No text smaller than MIN_PT, whoever made it."""
    for text in texts:
        if text.get_fontsize() < MIN_PT:
            text.set_fontsize(MIN_PT)


@contextmanager
def hidden(artists):
    """The artists out of the drawing meanwhile, then shown as they were."""
    shown = [a.get_visible() for a in artists]
    for a in artists:
        a.set_visible(False)
    try:
        yield
    finally:
        for a, visible in zip(artists, shown):
            a.set_visible(visible)


@contextmanager
def layouts_kept():
    """While a figure is drawn whole (its background, once per run), every `Text` (tick labels,
    titles, the labels panels make per run) is laid out once and its layout kept: about a third of
    drawing a background with plots. Only here, so no other figure in the kernel sees the change."""
    Text._get_layout = _kept_layout
    try:
        yield
    finally:
        Text._get_layout = _GET_LAYOUT


def font_key(prop) -> tuple:
    """What decides the glyphs a `FontProperties` draws (it is mutable, so it cannot be a key itself)."""
    return (prop.get_file(), tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
            prop.get_stretch(), prop.get_size_in_points())
