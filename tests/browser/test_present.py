"""Classroom mode: `make present` serves a scene with Voila (widgets live, code hidden).

For every scene, the test runs the very command `make present SCENE=NN` runs (read with `make -n`), with
`--port` and `--Voila.ip=127.0.0.1` added, in a directory holding a copy of notebooks/. It checks the scene
renders with no code cell showing, sets controls as the notebook's metadata says and checks the
outcome text, plays a few frames, saves a screenshot, and stops Voila (and the kernel it started, which outlives the
browser) by process id.
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import (ARTIFACTS, KERNEL_TIMEOUT, PROJECTOR, REPO, assert_no_errors, browser_spec, check_crash_moment,
                       check_outcome, first_scene, play_and_check_frames, scene_notebooks, wait_for_scene)

pytestmark = pytest.mark.browser


def present_command(scene: str = "") -> list[str]:
    """The command `make present` (or `make present SCENE=NN`) runs, as make expands it (`make -n`:
    nothing is run)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed: cannot read the 'present' target")
    out = subprocess.run([make, "-n", "--no-print-directory", "present", *([f"SCENE={scene}"] if scene else [])],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"make -n present failed:\n{out.stderr}"
    lines = [ln for ln in out.stdout.splitlines() if "voila" in ln and ".ipynb" in ln]
    assert lines, f"'make present' runs no voila on a notebook:\n{out.stdout}"
    return shlex.split(lines[-1])


def split_env(command: list[str]) -> tuple[dict, list[str]]:
    """`VAR=value ... program args` as ({VAR: value}, [program, args])."""
    env = {}
    while command and "=" in command[0] and not command[0].startswith("-") and "/" not in command[0].split("=")[0]:
        name, value = command[0].split("=", 1)
        env[name], command = value, command[1:]
    return env, command


SCENES = [n for n in scene_notebooks() if not browser_spec(n).get("reading")]   # a reading has no scene to present


@pytest.mark.parametrize("number", [n.name[:2] for n in SCENES])
def test_present_serves_a_scene_with_voila(number, start_voila, watched):
    """Each scene as a teacher shows it: `make present SCENE=NN`, at a projector's 1280 x 720."""
    env, command = split_env(present_command(number))
    assert env.get("JUPYTER_PATH") == str(REPO / "jupyter-settings") and "--template=course" in command, \
        "make present serves the scene with the course's Voila template (jupyter-settings/voila)"
    name = Path(next(a for a in command if a.endswith(".ipynb"))).name
    notebook = next((p for p in scene_notebooks() if p.name == name), None)
    if notebook is None:
        pytest.skip(f"{name} (served by make present) is not in notebooks/ yet")
    spec = browser_spec(notebook)
    server = start_voila(command)
    page = watched.page
    page.set_viewport_size(PROJECTOR)
    page.goto(server.url, timeout=KERNEL_TIMEOUT)   # Voila runs the notebook before it answers

    scene = wait_for_scene(page, watched)
    assert_code_hidden(page, notebook)
    assert_fits_a_projector(page)
    check_outcome(page, spec)
    play_and_check_frames(page)
    assert_monospace(page)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert_fits_a_projector(page)
    page.screenshot(path=str(ARTIFACTS / f"present-{notebook.stem}-1280x720.png"))
    check_crash_moment(page, ARTIFACTS / f"present-{notebook.stem}-crash-1280x720.png", min_width=1100)
    scene.screenshot(path=str(ARTIFACTS / f"present-{notebook.stem}.png"))
    assert_no_errors(page, watched)


def test_present_takes_any_scene():
    """`make present SCENE=NN` serves scene NN; `make present-all` serves the tree of every scene."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    for notebook in scene_notebooks():
        out = subprocess.run([make, "-n", "--no-print-directory", "present", f"SCENE={notebook.name[:2]}"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert f"notebooks/{notebook.name}" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([make, "-n", "--no-print-directory", "present-all"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert "voila notebooks --no-browser --template=course" in out.stdout, out.stdout + out.stderr


def assert_fits_a_projector(page):
    """At 1280 x 720, with the (first) scene scrolled to the top of the window (under the notebook's
    opening text), its controls, diagram and player are all in view."""
    scene = first_scene(page)
    scene.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    height = page.viewport_size["height"]
    for css in ("[class*='ds-control-']", ".ds-diagram", ".ds-player"):
        for part in scene.locator(css).all():
            box = part.bounding_box()
            assert box and box["y"] + box["height"] <= height, f"{css} ends at {box and box['y'] + box['height']:.0f} px, " \
                                                               f"below the {height} px window"


def assert_monospace(page):
    """Code and outcome panels are set in a monospace font in Voila too (indentation is the code's meaning)."""
    for css in (".ds-outcome pre", ".ds-now .ds-line", ".ds-code .ds-line"):
        family = page.locator(css).first.evaluate("e => getComputedStyle(e).fontFamily")
        assert "mono" in family.lower() or "courier" in family.lower() or "consolas" in family.lower(), (css, family)


def assert_code_hidden(page, notebook: Path):
    """Classroom mode shows no code cell: no editor, no code input, none of the cells' source text."""
    expect(page.locator(".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .cm-editor")).to_have_count(0)
    # the page's text but the scenes' own panels, which show workflow code on purpose (scene 14: the learner's)
    shown = page.evaluate("() => { const b = document.body.cloneNode(true); "
                          "b.querySelectorAll('.ds-scene').forEach(e => e.remove()); return b.innerText; }")
    shown_lines = [ln.strip() for ln in shown.splitlines() if ln.strip()]
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")][:2]
        if len(lines) == 1:
            assert lines[0] not in shown, f"Voila shows a code cell's source: {lines[0]!r}"
        elif lines:   # a cell's first two lines, one after the other (its first alone may be a word the text uses)
            leaked = any(shown_lines[i:i + 2] == lines for i in range(len(shown_lines)))
            assert not leaked, f"Voila shows a code cell's source: {lines!r}"
