"""The staff engineer: tap a question, the answer appears as a chat bubble."""
from __future__ import annotations

import html
import re

import ipywidgets as widgets

INLINE_CODE = re.compile(r"`([^`\n]+)`")


class Chat(widgets.VBox):
    """`questions` maps each question to its answer (plain text; blank lines become paragraphs)."""

    def __init__(self, questions: dict[str, str]):
        self.questions, self.asked = questions, []
        self.answers = widgets.HTML(value="", layout=widgets.Layout(width="100%"))
        self.answers.add_class("ds-chat")
        self.buttons = []
        for q in questions:
            b = widgets.Button(description=q.replace("`", ""), tooltip=f"ask: {q.replace('`', '')}",
                               layout=widgets.Layout(width="auto", max_width="100%"))
            b.add_class("ds-question")
            b.on_click(lambda _, q=q: self._answer(q))
            self.buttons.append(b)
        intro = widgets.HTML("<b>Staff engineer</b> · Not sure what to ask? Tap a question.")
        super().__init__([intro, widgets.Box(self.buttons, layout=widgets.Layout(flex_flow="row wrap")), self.answers])

    def ask(self, fragment: str) -> str:
        """Tap the question containing `fragment`, as a learner would; the chat log that follows."""
        fragment = fragment.replace("`", "")
        next(b for b in self.buttons if fragment in b.description).click()
        return self.answers.value

    def _answer(self, question: str):
        self.asked.append(answer_html(question, self.questions[question]))
        self.answers.value = "".join(self.asked[-4:])


def chat_text(text: str) -> str:
    """Plain text as chat HTML: escaped, `code` set in monospace."""
    return INLINE_CODE.sub(r"<code>\1</code>", html.escape(text))


def answer_html(question: str, answer: str) -> str:
    paras = "".join(f"<p>{chat_text(p.strip())}</p>" for p in answer.strip().split("\n\n"))
    return f'<div class="ds-asked">{chat_text(question)}</div><div class="ds-answer">{paras}</div>'
