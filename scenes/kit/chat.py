"""The staff engineer: tap a question, the answer appears as a chat bubble."""
from __future__ import annotations

import html

import ipywidgets as widgets


def chat(questions: dict[str, str]) -> widgets.VBox:
    """`questions` maps each question to its answer (plain text; blank lines become paragraphs)."""
    log = widgets.HTML(value="", layout=widgets.Layout(width="100%"))
    log.add_class("ds-chat")
    asked: list[str] = []

    def ask(question: str):
        asked.append(answer_html(question, questions[question]))
        log.value = "".join(asked[-4:])

    buttons = []
    for q in questions:
        b = widgets.Button(description=q, tooltip=q, layout=widgets.Layout(width="auto", max_width="100%"))
        b.add_class("ds-question")
        b.on_click(lambda _, q=q: ask(q))
        buttons.append(b)
    intro = widgets.HTML("<b>Staff engineer</b> · Not sure what to ask? Tap a question.")
    return widgets.VBox([intro, widgets.Box(buttons, layout=widgets.Layout(flex_flow="row wrap")), log])


def answer_html(question: str, answer: str) -> str:
    paras = "".join(f"<p>{html.escape(p.strip())}</p>" for p in answer.strip().split("\n\n"))
    return f'<div class="ds-asked">{html.escape(question)}</div><div class="ds-answer">{paras}</div>'
