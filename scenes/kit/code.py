"""The implementation panel: real source code, with the line running in the current frame lit."""
from __future__ import annotations

import html
import inspect
import textwrap
from functools import lru_cache


@lru_cache(maxsize=None)
def source_of(obj) -> str:
    """The source of a function, a workflow or an activity, as it is in the engine."""
    fn = getattr(obj, "fn", obj)
    return textwrap.dedent(inspect.getsource(fn))


def code_html(title: str, note: str, source: str, lit: int | None = None, replaying: bool = False) -> str:
    """`lit` counts from 1 at the first line of `source`."""
    rows = []
    for n, line in enumerate(source.rstrip("\n").splitlines(), start=1):
        cls = "ds-line"
        if n == lit:
            cls += " ds-lit ds-replay" if replaying else " ds-lit"
        rows.append(f'<div class="{cls}"><span class="ds-ln">{n:>2}</span>{html.escape(line) or " "}</div>')
    tag = ' <span class="ds-tag">replay</span>' if replaying and lit else ""
    return (f'<div class="ds-code"><div class="ds-code-title"><b>{html.escape(title)}</b>{tag}'
            f'<div class="ds-code-note">{html.escape(note)}</div></div><pre>{"".join(rows)}</pre></div>')


STYLE = """<style>
.ds-code{font-size:12px;border:1px solid #cbd2d9;border-radius:6px;margin:4px 0;background:#fff}
.ds-code-title{padding:4px 8px;background:#f5f7fa;border-bottom:1px solid #e4e7eb}
.ds-code-note{color:#7b8794;font-size:11px}
.ds-code pre{margin:0;padding:4px 0;line-height:1.35}
.ds-line{padding:0 8px;white-space:pre}
.ds-ln{color:#9aa5b1;display:inline-block;width:2.2em}
.ds-lit{background:#ffd166}
.ds-lit.ds-replay{background:#d9d4fb}
.ds-tag{background:#6c5ce7;color:#fff;border-radius:4px;padding:0 5px;margin-left:6px;font-size:10px}
.ds-chat{font-size:13px}
.ds-answer{background:#eef2f6;border-radius:10px;padding:8px 12px;margin:6px 0;max-width:760px}
.ds-asked{text-align:right;color:#3e4c59;margin:6px 0}
.ds-outcome pre{font-size:13px;margin:2px 0}
.ds-frame{font-family:monospace;font-size:12px;color:#3e4c59}
</style>"""
