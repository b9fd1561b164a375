"""The course's texts: the staff engineer's answers stay short, and money in markdown is never math."""
import importlib
import json
import re
from pathlib import Path

import pytest

SCENES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "scenes").glob("s[0-9][0-9].py")) + ["playground"]
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MATH_DOLLAR = re.compile(r"(?<!\\)\$(?=\d)")   # JupyterLab renders `$...$` as math: money is written `\$42.00`


@pytest.mark.parametrize("scene", SCENES)
def test_every_chat_answer_is_at_most_120_words(scene):
    questions = importlib.import_module(f"scenes.{scene}").QUESTIONS
    assert 3 <= len(questions) <= 5
    long = {q: len(a.split()) for q, a in questions.items() if len(a.split()) > 120}
    assert not long, f"{scene}: answers over 120 words: {long}"


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_no_markdown_cell_has_an_unescaped_dollar_before_a_digit(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    bad = [(i, line) for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"
           for line in "".join(cell["source"]).splitlines() if MATH_DOLLAR.search(line)]
    assert not bad, f"{path.name}: write money as \\$ in markdown: {bad}"
