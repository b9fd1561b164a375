"""Every scene notebook (`notebooks/NN-*.ipynb`), opened in JupyterLab in a real browser.

For each: Run menu -> Run All Cells, wait for the scene (`.ds-scene`), set controls as the notebook's
metadata says and check the outcome text, play and check the frames advance, ask the staff
engineer a question and check the answer appears, save a screenshot to artifacts/browser/. Any
error in the browser console, the notebook's outputs or the kernel's messages fails the test.

What to do comes from the notebook's own metadata, so a new scene needs no test code:

    "metadata": {"durable_sim": {"browser": {
        "set": {"strategy": "cron", "crash_after": "ChargeCard"},   # control name -> option label
        "expect": "statement: $84.00 (2 charges)",                    # text (or list of texts) in .ds-outcome
        "then_set": {"strategy": "durable"},                          # optional second step ...
        "then_expect": "statement: $42.00 (1 charge)",                # ... and what it must then show
        "ask": "Why not check `charged` before charging?"             # optional; default: the first question
    }}}

A control is the element with class `ds-control-<name>`: a Dropdown (<select>), ToggleButtons,
RadioButtons, Checkbox, a single ToggleButton, a slider (typed into its readout) or a text box.
With `then_set`, the second step must change the outcome text (`expect` gone, `then_expect` shown);
the first may restate the notebook's defaults. Without it, `set` itself must change the outcome.

A notebook without a scene to play (the Graduate epilogue) says `{"reading": true, "expect": TEXT}`:
its cells run, TEXT appears in their outputs, and nothing errs.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import (ARTIFACTS, KERNEL_TIMEOUT, UI_TIMEOUT, ask_question, assert_no_errors, browser_spec,
                       check_controls_have_tooltips, check_crash_moment, check_keys_reach_the_ends,
                       check_no_money_as_math, check_outcome, code_cell_count, play_and_check_frames,
                       scene_notebooks, wait_for_scene)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("notebook", scene_notebooks(), ids=lambda p: p.stem)
def test_scene_in_jupyterlab(notebook, lab_kernels, watched):
    # lab_kernels before watched: the failure screenshot is taken before the kernel is shut down.
    spec = browser_spec(notebook)
    page = watched.page
    # A workspace of its own: JupyterLab would otherwise reopen the previous test's notebook too.
    page.goto(lab_kernels.url(f"lab/workspaces/{notebook.stem}/tree/{notebook.name}"))
    expect(page.locator(".jp-NotebookPanel")).to_have_count(1, timeout=KERNEL_TIMEOUT)
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=KERNEL_TIMEOUT)
    close_left_sidebar(page)
    run_all_cells(page, watched)
    # The notebook on disk carries outputs and widget state from its last run: wait for this run's
    # every cell to be answered by the kernel before looking at the scene.
    watched.wait_for_executions(code_cell_count(notebook), KERNEL_TIMEOUT)
    if spec.get("reading"):
        return read_through(page, watched, notebook, spec)
    scene = wait_for_scene(page, watched)
    wait_until_idle(page)
    assert_no_errors(page, watched)

    check_controls_have_tooltips(page)
    check_outcome(page, spec)
    wait_until_idle(page)   # (the last control's run drawn: its frame count is the one to reach)
    check_keys_reach_the_ends(page)
    play_and_check_frames(page)
    ask_question(page, spec.get("ask"))

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    check_crash_moment(page, ARTIFACTS / f"{notebook.stem}-crash-1366x768.png", min_width=1100)
    scene.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"))
    check_no_money_as_math(page)
    expect(page.get_by_text(re.compile("notified about official Jupyter news", re.I)),
           "no news toast over the scene (jupyter-settings/labconfig)").to_have_count(0)
    wait_until_idle(page)
    assert_no_errors(page, watched)


def read_through(page, watched, notebook, spec):
    """A notebook to read: its outputs show `expect`, render no money as math, and nothing errs."""
    wait_until_idle(page)
    for text in [spec["expect"]] if isinstance(spec["expect"], str) else spec["expect"]:
        expect(page.locator(".jp-OutputArea-output").filter(has_text=text).first).to_be_attached(timeout=UI_TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}-1366x768.png"))
    check_no_money_as_math(page)
    assert_no_errors(page, watched)


def close_left_sidebar(page):
    """A learner at 1366 px closes the file browser to give the notebook the width."""
    stack = page.locator("#jp-left-stack")
    if stack.is_visible():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()
        expect(stack).to_be_hidden()


def run_all_cells(page, watched):
    """The Run menu's "Run All Cells", once the notebook's kernel is connected and idle.

    Clicked earlier (the status bar still saying "No Kernel" or "Initializing"), JupyterLab quietly
    runs nothing: so wait for "| Idle" in the status bar, and check that cells did start."""
    kernel_idle = page.locator(".jp-StatusBar-Widget").get_by_role("button", name=re.compile(r"\|\s*Idle$"))
    expect(kernel_idle).to_be_visible(timeout=KERNEL_TIMEOUT)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    item = page.get_by_role("menuitem", name=re.compile(r"^Run All Cells\b"))
    expect(item).to_be_enabled()
    item.click()
    expect(page.locator(".lm-Menu")).to_have_count(0)
    watched.wait_for_executions(1, UI_TIMEOUT)   # it did send a cell to the kernel


def wait_until_idle(page):
    """No cell is still queued or running (`[*]`) and the kernel says it is idle."""
    expect(page.locator(".jp-InputPrompt", has_text="[*]")).to_have_count(0, timeout=KERNEL_TIMEOUT)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=KERNEL_TIMEOUT)
