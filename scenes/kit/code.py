"""The implementation panel: real source code, with the line running in the current frame lit.

Three kinds of lit line: running (yellow), replayed (violet: answered from the history), and the
line that was running when the process died (red: the crash moment). Long engine sources come folded
behind "the engine's source" (an accordion the view keeps, so it stays open while playing), so the code under discussion stays in view; and `now_strip` copies the
lit line, with a line either side, into a short strip the view pins under the player.
"""
from __future__ import annotations

import html
import inspect
import re
import textwrap
from functools import lru_cache

ENGINE = ("<!--ds-engine-->", "<!--/ds-engine-->")   # marks an engine panel in a scene's code HTML
LINE = re.compile(r'<div class="ds-line( [^"]*)?"><span class="ds-ln">\s*(\d+)</span>(.*?)</div>')


@lru_cache(maxsize=None)
def source_of(obj) -> str:
    """The source of a function, a workflow or an activity, as it is in the engine."""
    fn = getattr(obj, "fn", obj)
    return textwrap.dedent(inspect.getsource(fn))


def running_line(run, frame) -> int | None:
    """The workflow line to light: the frame's own; at the skull (where the process has no line any
    more), the line that was running when it died."""
    if not frame.skull:
        return frame.line
    i = next(i for i, f in enumerate(run.frames) if f is frame)
    for f in reversed(run.frames[:i]):
        if f.skull:
            return None
        if f.line is not None:
            return f.line
    return None


def code_html(title: str, note: str, source: str, lit: int | None = None, replaying: bool = False,
              crashed: bool = False, engine: bool = False) -> str:
    """`lit` counts from 1 at the first line of `source`. `crashed`: the lit line is the one the
    process died on (or, in scene 03, the one replay refused). `engine`: simulator plumbing, shown
    folded behind "the engine's source"."""
    rows = []
    for n, line in enumerate(source.rstrip("\n").splitlines(), start=1):
        cls = "ds-line"
        if n == lit:
            cls += " ds-lit ds-crash" if crashed else " ds-lit ds-replay" if replaying else " ds-lit"
        rows.append(f'<div class="{cls}"><span class="ds-ln">{n:>2}</span>{html.escape(line) or " "}</div>')
    tag = (' <span class="ds-tag ds-tag-crash">crashed here</span>' if crashed and lit else
           ' <span class="ds-tag">replay</span>' if replaying and lit else "")
    body = (f'<div class="ds-code-title"><b>{html.escape(title)}</b>{tag}'
            f'<div class="ds-code-note">{html.escape(note)}</div></div><pre>{"".join(rows)}</pre>')
    if engine:
        return f'{ENGINE[0]}<div class="ds-code ds-engine">{body}</div>{ENGINE[1]}'
    return f'<div class="ds-code">{body}</div>'


def split_engine(panels: str) -> tuple[str, str]:
    """`panels` as (the code under discussion, the engine's source): the view folds the second away."""
    parts = re.split(f"{ENGINE[0]}(.*?){ENGINE[1]}", panels, flags=re.S)
    return "".join(parts[0::2]), "".join(parts[1::2])


def now_strip(panels: str, before: int = 1, after: int = 1) -> str:
    """The lit line of `panels` (the first one lit) with `before` and `after` lines around it, and the
    title of its panel: what the view pins under the player. Without a lit line, a note saying so."""
    at = panels.find(" ds-lit")
    if at < 0:
        return ('<div class="ds-now ds-now-idle"><span class="ds-now-where">code</span>'
                '<span class="ds-now-note">no line of code runs at this moment</span></div>')
    start = max(panels.rfind('<div class="ds-code-title"><b>', 0, at), 0)
    title = panels[start:].split("<b>", 1)[1].split("</b>", 1)[0]
    end = panels.find("</pre>", at)
    rows = LINE.findall(panels, start, end)
    i = next(k for k, (cls, _, _) in enumerate(rows) if cls and "ds-lit" in cls)
    shown = "".join(f'<div class="ds-line{cls}"><span class="ds-ln">{int(n):>2}</span>{text}</div>'
                    for cls, n, text in rows[max(0, i - before):i + after + 1])
    return (f'<div class="ds-now"><span class="ds-now-where">{title}</span>'
            f'<pre>{shown}</pre></div>')


MONO_FONT = "var(--jp-code-font-family, 'DejaVu Sans Mono', Menlo, Consolas, monospace)"
STYLE = f"""<style>
.ds-scene{{max-width:1260px}}
.ds-scene .ds-diagram{{display:block;width:auto !important;height:auto !important;max-width:100%;
  max-height:calc(100vh - 190px);object-fit:contain;object-position:left top;margin:2px 0}}
.ds-code{{font-size:13px;border:1px solid #cbd2d9;border-radius:6px;margin:4px 0;background:#fff;display:block}}
.ds-code-title{{padding:4px 8px;background:#f5f7fa;border-bottom:1px solid #e4e7eb}}
.ds-code-note{{color:#52606d;font-size:12px}}
.ds-code pre,.ds-now pre,.ds-outcome pre{{font-family:{MONO_FONT};margin:0}}
.ds-code pre{{padding:4px 0;line-height:1.35}}
.ds-line{{padding:0 8px;white-space:pre;font-family:{MONO_FONT}}}
.ds-ln{{color:#7b8794;display:inline-block;width:2.2em}}
.ds-lit{{background:#ffd166}}
.ds-lit.ds-replay{{background:#d9d4fb}}
.ds-lit.ds-crash{{background:#d64545;color:#fff}}
.ds-lit.ds-crash .ds-ln{{color:#fff}}
.ds-tag{{background:#6c5ce7;color:#fff;border-radius:4px;padding:0 5px;margin-left:6px;font-size:12px}}
.ds-tag-crash{{background:#d64545}}
.ds-now{{display:flex;align-items:flex-start;gap:8px;font-size:13px;border:1px solid #cbd2d9;border-radius:6px;
  background:#fff;padding:2px 0;margin:2px 0}}
.ds-now pre{{flex:1;line-height:1.35;overflow:hidden}}
.ds-now-where{{font-weight:600;padding:0 8px;min-width:9em;color:#3e4c59}}
.ds-now-note{{color:#7b8794}}
.ds-chat{{font-size:14px;line-height:1.45}}
.ds-chat p{{margin:0 0 6px 0;line-height:1.45}}
.ds-chat code{{font-family:{MONO_FONT};background:#e4e7eb;border-radius:3px;padding:0 3px;font-size:13px}}
.ds-answer{{background:#eef2f6;border-radius:10px;padding:8px 12px;margin:6px 0;max-width:760px}}
.ds-asked{{text-align:right;color:#3e4c59;margin:6px 0;line-height:1.45}}
.ds-outcome{{font-size:13px}}
.ds-label{{font-size:var(--jp-widgets-font-size);line-height:1.2;margin-right:6px;white-space:nowrap}}
.ds-outcome pre{{font-size:13px;margin:2px 0;white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;line-height:1.4}}
.ds-sofar{{font-family:{MONO_FONT};margin:2px 0}}
.ds-end-title{{color:#52606d;margin-top:4px}}
.ds-frame{{font-family:{MONO_FONT};font-size:13px;color:#3e4c59;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
.ds-frame>.widget-html-content{{min-width:0;overflow:hidden;text-overflow:ellipsis}}   /* the line it cuts, not its box (a flex item) */
.ds-player{{align-items:center}}
</style>"""
