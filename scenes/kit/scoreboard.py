"""A scoreboard: one row per configuration, columns grouped by strategy, as an HTML table.

The kit only draws: a scene passes cells it computed by running the engine. A cell is text, or
(text, tone) with tone "bad" (red: a double charge, a stuck workflow) or "good"; `lit` marks the row
the controls are showing now.
"""
from __future__ import annotations

import html

STYLE = """<style>
.ds-scoreboard{font-size:12px;margin:6px 0}
.ds-scoreboard table{border-collapse:collapse}
.ds-scoreboard th,.ds-scoreboard td{border:1px solid #e4e7eb;padding:2px 8px;text-align:right;white-space:nowrap}
.ds-scoreboard th{background:#f5f7fa;font-weight:600}
.ds-scoreboard td:first-child,.ds-scoreboard th:first-child{text-align:left}
.ds-scoreboard tr.ds-row-lit td{background:#fff4d6}
.ds-scoreboard td.ds-bad{color:#d64545;font-weight:600}
.ds-scoreboard td.ds-good{color:#1f7a4d}
.ds-scoreboard .ds-note{color:#7b8794;font-size:11px;margin-top:2px}
</style>"""


def scoreboard_html(title: str, first: str, groups: list[tuple[str, list[str]]], rows: list[list],
                    lit: int | None = None, note: str = "") -> str:
    """`first` heads the row-label column; `groups` are (group title, its column labels); each row is
    its label followed by one cell per column, in the groups' order."""
    top = f"<th rowspan=2>{html.escape(first)}</th>" + "".join(
        f"<th colspan={len(cols)}>{html.escape(name)}</th>" for name, cols in groups)
    sub = "".join(f"<th>{html.escape(c)}</th>" for _, cols in groups for c in cols)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(_cell(c) for c in row)
        body.append(f'<tr class="ds-row-lit">{cells}</tr>' if i == lit else f"<tr>{cells}</tr>")
    foot = f'<div class="ds-note">{html.escape(note)}</div>' if note else ""
    return (f'{STYLE}<div class="ds-scoreboard"><b>{html.escape(title)}</b><table><tr>{top}</tr>'
            f'<tr>{sub}</tr>{"".join(body)}</table>{foot}</div>')


def _cell(cell) -> str:
    text, tone = cell if isinstance(cell, tuple) else (cell, "")
    cls = f' class="ds-{tone}"' if tone else ""
    return f"<td{cls}>{html.escape(str(text))}</td>"
