"""Real-browser tests: JupyterLab and Voila driven by Debian's Chromium through Playwright.

Every server here is started in its own session (process group) on 127.0.0.1 and a free port, and
stopped by its process id in a `finally`, even when a test fails: SIGTERM to the group (the server
then shuts its kernels down), SIGKILL if it lingers, and SIGKILL to any kernel it started that is
still alive (kernels run in sessions of their own, so killing the server's group alone misses them).

The notebooks are copied to a temporary directory first: the tests never touch the files in
`notebooks/`. Screenshots (and the servers' logs) go to `artifacts/browser/`.

Errors fail a test from three places: the browser console (`console.error`, uncaught page errors),
the notebook's outputs, and the kernel's messages seen on the page's websockets (an `error` message,
or a traceback on stderr), which also catches exceptions raised in widget callbacks, which
JupyterLab does not show in the notebook.

Run only these: `.venv/bin/python -m pytest -m browser`; skip them: `-m 'not browser'`.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
# Where the scene notebooks are read from; DURABLE_SIM_NOTEBOOKS points elsewhere (for trying the
# suite on notebooks of your own without touching notebooks/).
NOTEBOOKS = Path(os.environ.get("DURABLE_SIM_NOTEBOOKS") or REPO / "notebooks")
SCENE_GLOB = "[0-9][0-9]-*.ipynb"
CHROMIUM = os.environ.get("DURABLE_SIM_CHROMIUM", "/usr/bin/chromium")

SERVER_START_TIMEOUT = 90      # s, JupyterLab or Voila answering HTTP
KERNEL_TIMEOUT = 120_000       # ms, open a notebook, start its kernel, run every cell, draw the scene
UI_TIMEOUT = 30_000            # ms, any one thing the page should show after a click
STOP_TIMEOUT = 15              # s, a server's grace period after SIGTERM

# Console messages that are not errors of the course. Each entry: (regex on the message text, why).
# Keep this list short and explain every line.
# (Voila's lab template links Font Awesome from a CDN: the course's own template, jupyter-settings/voila,
# drops the links, so that request is not made at all.) Warnings count as errors too.
IGNORED_CONSOLE: list[tuple[str, str]] = []   # none: pyproject.toml pins Voila and the widgets so that none is needed
SETTINGS = REPO / "jupyter-settings"   # the Jupyter settings the course ships (its README says what)
LAPTOP = {"width": 1366, "height": 768}      # what a learner has
PROJECTOR = {"width": 1280, "height": 720}   # what a teacher has


def scene_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob(SCENE_GLOB))


def code_cell_count(notebook: Path) -> int:
    """Code cells that Run All Cells sends to the kernel (JupyterLab skips empty ones)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip())


def browser_spec(notebook: Path) -> dict:
    """What the browser test should do with a scene: notebook metadata `durable_sim.browser`."""
    meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    spec = meta.get("durable_sim", {}).get("browser")
    if not spec or "expect" not in spec or ("set" not in spec and not spec.get("reading")):
        pytest.fail(f"{notebook.name}: notebook metadata has no durable_sim.browser with 'set' and 'expect' "
                    "(or 'reading' and 'expect'; see tests/browser/test_notebooks.py for the format)")
    return spec


# -- processes ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_time(pid: int) -> str | None:
    """A process's start time (field 22 of /proc/PID/stat): tells a pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int(d.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below `pid`, each with its start time."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            start = _start_time(k)
            if start is not None:
                out.append((k, start))
                todo.append(k)
    return out


def _die_with_parent():
    """In the child, before exec: SIGTERM when the test process dies, even by SIGKILL (Linux), so a
    killed test run leaves no server behind (the server then shuts its kernels down)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def _stop_on_signals():
    """SIGTERM or SIGHUP (a CI timeout, a closed terminal) becomes KeyboardInterrupt, on which pytest
    still runs the fixtures' finalizers, which stop the servers. Handlers someone else set are kept."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):   # not the main thread
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, interrupt)


class Server:
    """A server process in its own session; `stop()` ends it and every process it started."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict, url: str, status_url: str, log_dir: Path):
        self.name, self.url, self.status_url = name, url, status_url
        self.log_path = log_dir / f"{name}.log"     # copied to artifacts/browser/ when the server stops
        self._log = open(self.log_path, "wb")
        self.argv = argv
        _stop_on_signals()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self._known: dict[int, str] = {}

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT, any_answer: bool = False):
        """Wait until `status_url` answers 200 (with `any_answer`, any HTTP answer at all)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(self.status_url, timeout=5) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError:
                if any_answer:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        pytest.fail(f"{self.name} did not answer {self.status_url} in {timeout:.0f}s:\n{self.log_tail()}",
                    pytrace=False)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(["$ " + " ".join(self.argv), *text[-lines:]])

    def note_children(self):
        """Remember the processes (kernels) the server has started, to stop them even if it cannot."""
        if self.proc.poll() is None:
            self._known.update(descendants(self.proc.pid))

    def stop(self):
        self.note_children()
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)   # the server shuts its kernels down
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(STOP_TIMEOUT)
        finally:
            # Kernels live in sessions of their own: end any the server left behind, by pid (and its
            # group, which is the kernel's own), checking the pid still names the same process.
            for pid, start in self._known.items():
                if _start_time(pid) == start:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        if os.getpgid(pid) == pid:
                            os.killpg(pid, signal.SIGKILL)
                        else:
                            os.kill(pid, signal.SIGKILL)
            self._log.close()
            with contextlib.suppress(OSError):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.log_path, ARTIFACTS / self.log_path.name)


def copy_course(dest: Path) -> Path:
    """The notebooks folder copied to `dest/notebooks`: tests run the copies, never the originals."""
    target = dest / "notebooks"
    shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def isolated_env(home: Path) -> dict:
    """Environment for a server: Jupyter's config, settings, workspaces and runtime files in `home`,
    so the tests neither read nor write the developer's own Jupyter state."""
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"), ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
                     ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    # The course's own settings, as `make lab` and `make present` use them: no news toast, no update
    # check, Voila's template without its CDN links.
    env["JUPYTER_CONFIG_PATH"] = str(SETTINGS)
    env["JUPYTER_PATH"] = str(SETTINGS)
    env.pop("JUPYTER_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- fixtures: servers -------------------------------------------------------------------------

class Lab:
    def __init__(self, server: Server, port: int, token: str, root: Path):
        self.server, self.port, self.token, self.root = server, port, token, root
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def api(self, method: str, path: str):
        req = urllib.request.Request(self.url(path), method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        """End every session (and its kernel), so one notebook's kernel does not slow the next."""
        self.server.note_children()
        for s in self.api("GET", "api/sessions"):
            with contextlib.suppress(urllib.error.URLError):
                self.api("DELETE", f"api/sessions/{s['id']}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, its root a copy of notebooks/."""
    home = tmp_path_factory.mktemp("lab-home")
    root = copy_course(tmp_path_factory.mktemp("lab-root"))
    port, token = free_port(), secrets.token_hex(24)
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}"]
    server = Server("jupyterlab", argv, root, isolated_env(home), url=f"http://127.0.0.1:{port}/lab",
                    status_url=f"http://127.0.0.1:{port}/api/status?token={token}", log_dir=home)
    try:
        server.wait_ready()
        yield Lab(server, port, token, root)
    finally:
        server.stop()


@pytest.fixture
def lab_kernels(lab):
    """The JupyterLab server; after the test, every kernel the test started is shut down."""
    try:
        yield lab
    finally:
        lab.shutdown_kernels()


@pytest.fixture(scope="session")
def start_voila(tmp_path_factory):
    """Start Voila on one notebook (a copy) on a free port; every server started is stopped at the end."""
    started: list[Server] = []

    def start(command: list[str]) -> Server:
        """`command` as run from the repository (e.g. `.venv/bin/voila notebooks/NN-....ipynb
        --no-browser`), run instead in a directory holding a copy of notebooks/."""
        home = tmp_path_factory.mktemp("voila-home")
        course = tmp_path_factory.mktemp("voila-course")
        copy_course(course)
        port = free_port()
        exe = command[0] if "/" not in command[0] else str((REPO / command[0]).resolve())
        argv = [exe, *command[1:], f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"]
        server = Server(f"voila-{len(started)}", argv, course, isolated_env(home), url=f"http://127.0.0.1:{port}/",
                        status_url=f"http://127.0.0.1:{port}/api/status", log_dir=home)
        started.append(server)
        # Voila's pages run the notebook; any answer on another path (a redirect to log in, a 404)
        # says the server is up without starting a kernel.
        server.wait_ready(any_answer=True)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# -- fixtures: the browser ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (scripts/ensure-chromium installs it); "
                    "skip them with: .venv/bin/python -m pytest -m 'not browser'")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT)   # expect()'s own default is 5 s: tight on a busy 2-core machine
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


_ERROR_MSG = re.compile(rb'"msg_type":\s*"error"')
_STDERR_MSG = re.compile(rb'"name":\s*"stderr"')
_EXECUTE_REQUEST = re.compile(rb'"msg_type":\s*"execute_request"')
_EXECUTE_REPLY = re.compile(rb'"msg_type":\s*"execute_reply"')


class Watched:
    """A page and every error seen on it: console errors, page errors, kernel error messages."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        self.kernel: list[str] = []
        self.executes = self.replies = 0     # execute requests the page sent, and their replies
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws):
        ws.on("framereceived", self._on_frame)
        ws.on("framesent", self._on_sent)

    def _on_sent(self, payload):
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else payload
        if _EXECUTE_REQUEST.search(data):
            self.executes += 1

    def _on_console(self, msg):
        if msg.type not in ("error", "warning"):
            return
        text = msg.text
        loc = msg.location or {}
        where = loc.get("url", "")
        for pattern, _why in IGNORED_CONSOLE:
            if re.search(pattern, f"{text} {where}"):
                return
        self.console.append(f"console.{msg.type}: {text} ({where})")

    def _on_frame(self, payload):
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else payload
        if _EXECUTE_REPLY.search(data):
            self.replies += 1
        if _ERROR_MSG.search(data) or (_STDERR_MSG.search(data) and b"Traceback" in data):
            self.kernel.append(_readable(data))

    def wait_for_executions(self, at_least: int, timeout_ms: float):
        """Until the page has sent `at_least` execute requests and had every one answered; an error
        on the way fails at once."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not (self.executes >= at_least and self.replies >= self.executes):
            if self.errors():
                assert_no_errors(self.page, self)
            if time.monotonic() > deadline:
                pytest.fail(f"{self.executes} cell(s) sent to the kernel (expected {at_least}), "
                            f"{self.replies} answered, after {timeout_ms / 1000:.0f}s", pytrace=False)
            self.page.wait_for_timeout(100)   # lets Playwright deliver the websocket events

    def errors(self) -> list[str]:
        return self.console + [f"kernel error message: {k}" for k in self.kernel]


def _readable(data: bytes) -> str:
    """The interesting part of a kernel message: its content, traceback colours stripped."""
    text = data.decode("utf-8", "replace")
    text = re.sub(r"\\u001b\[[0-9;]*m|\x1b\[[0-9;]*m", "", text)
    m = re.search(r'"(ename|text)":.*', text, re.S)
    return (m.group(0) if m else text)[:2000]


@pytest.fixture
def watched(browser, request):
    """A fresh browser context and page, watched for errors; requests off 127.0.0.1 are blocked. On
    failure a full-page screenshot lands in artifacts/browser/FAILED-<test>.png."""
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(UI_TIMEOUT)
    # Nothing leaves the machine: the course must work offline, and the tests must not depend on
    # (or wait for) the network. A blocked request shows up as a console error.
    context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z]+://"), lambda route: route.abort())
    page = context.new_page()
    w = Watched(page)
    failed_shot = ARTIFACTS / f"FAILED-{_slug(request.node.name)}.png"
    failed_shot.unlink(missing_ok=True)     # a previous run's, no longer true
    try:
        yield w
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(failed_shot), full_page=True)
        context.close()


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


# -- driving a scene (shared by the JupyterLab and the Voila tests) ----------------------------

_FRAME = re.compile(r"frame (\d+) / (\d+)")

# Which kind of widget a `.ds-control-NAME` element is, from what it contains.
_CONTROL_KIND = """e => e.querySelector('select') ? 'select'
    : e.querySelector('input[type=checkbox]') ? 'checkbox'
    : e.querySelector('input[type=radio]') ? 'radio'
    : e.querySelector('.widget-readout') ? 'slider'
    : e.querySelector('input, textarea') ? 'text'
    : e.querySelectorAll('button').length > 1 ? 'buttons'
    : (e.tagName === 'BUTTON' || e.querySelector('button')) ? 'toggle'
    : 'unknown'"""


def set_control(page, name: str, value):
    """Set control `name` to the option labelled `value`, as a learner would."""
    from playwright.sync_api import expect

    from scenes.kit.labels import label as shown_as

    root = first_scene(page).locator(f".ds-control-{name}")
    expect(root, f"one control with class ds-control-{name}").to_have_count(1)
    kind = root.evaluate(_CONTROL_KIND)
    label = shown_as(name, value)   # the notebook names the model's value; the control shows its label
    if kind == "select":
        select = root.locator("select")
        select.select_option(label=label)
        expect(select.locator("option:checked")).to_have_text(label)
    elif kind == "buttons":      # ToggleButtons
        button = root.locator("button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
        button.click()
        expect(button).to_have_class(re.compile(r"\bmod-active\b"))
    elif kind == "radio":
        root.get_by_label(label, exact=True).check()
    elif kind == "checkbox":
        root.locator("input[type=checkbox]").set_checked(_truthy(value))
    elif kind == "toggle":       # a single ToggleButton
        button = root if root.evaluate("e => e.tagName") == "BUTTON" else root.locator("button")
        active = "mod-active" in (button.get_attribute("class") or "")
        if active != _truthy(value):
            button.click()
    elif kind == "slider":
        readout = root.locator(".widget-readout")
        readout.fill(label)
        readout.press("Enter")
        expect(readout).to_have_text(label)
    elif kind == "text":
        box = root.locator("input, textarea").first
        box.fill(label)
        box.press("Enter")
    else:
        pytest.fail(f"ds-control-{name}: a widget the test does not know how to set")


def _truthy(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}


def _texts(expected) -> list[str]:
    return [expected] if isinstance(expected, str) else list(expected)


def check_outcome(page, spec: dict):
    """Set the controls in `spec["set"]`: the outcome text must show `spec["expect"]`; then, if given,
    `spec["then_set"]` must change it to show `spec["then_expect"]` (and no longer `spec["expect"]`).
    Without a `then_set`, `spec["set"]` itself must change the outcome text."""
    from playwright.sync_api import expect

    outcome = first_scene(page).locator(".ds-outcome")
    expect(outcome, "the scene's outcome text (.ds-outcome)").to_have_count(1)
    before = outcome.inner_text()
    for name, value in spec["set"].items():
        set_control(page, name, value)
    for text in _texts(spec["expect"]):
        expect(outcome).to_contain_text(text)
    after = outcome.inner_text()
    if "then_set" not in spec:
        assert after != before, f"setting {spec['set']} did not change the outcome text:\n{before}"
        return
    # With a second step, that step must change the outcome (the first may only restate the
    # notebook's defaults, so that the test starts from a known state).
    for name, value in spec["then_set"].items():
        set_control(page, name, value)
    for text in _texts(spec["then_expect"]):
        expect(outcome).to_contain_text(text)
    for text in _texts(spec["expect"]):
        if not any(text in t for t in _texts(spec["then_expect"])):
            expect(outcome).not_to_contain_text(text)
    assert outcome.inner_text() != after, f"setting {spec['then_set']} did not change the outcome text:\n{after}"


def frame_number(page) -> tuple[int, int]:
    text = first_scene(page).locator(".ds-frame").inner_text()
    m = _FRAME.search(text)
    assert m, f"the frame text (.ds-frame) does not read 'frame N / M': {text!r}"
    return int(m.group(1)), int(m.group(2))


def check_controls_have_tooltips(page):
    """Every control of the scene, and the player's speed, carries a tooltip a pointer can find (a title
    on it or inside it): ipywidgets drops a Dropdown's own tooltip when it has a description."""
    missing = first_scene(page).evaluate("""s => [...s.querySelectorAll('[class*="ds-control-"], .ds-speed')]
        .filter(e => !(e.title || e.querySelector('[title]:not([title=""])')))
        .map(e => [...e.classList].find(c => c.startsWith('ds-')))""")
    assert not missing, f"controls without a tooltip: {missing}"


def check_keys_reach_the_ends(page):
    """On the scrubber's handle, End shows the run's last frame and Home its first: after a control
    change too, when the run has another length than the one the slider was first drawn for."""
    from playwright.sync_api import expect

    handle = first_scene(page).locator(".ds-scrub .noUi-handle").first
    frame = first_scene(page).locator(".ds-frame")
    handle.focus()
    handle.press("End")   # (the count is not read first: the last control's run may still be drawing)
    expect(frame, "End on the scrubber shows the last frame").to_contain_text(re.compile(r"frame (\d+) / \1 "))
    handle.press("Home")
    expect(frame, "Home on the scrubber shows the first frame").to_contain_text("frame 1 / ")


def play_and_check_frames(page):
    """Press play: the frame counter must move on at least two frames (one if the run has only two)
    and the diagram must be redrawn; then press it again to pause."""
    from playwright.sync_api import expect

    start, total = frame_number(page)
    assert total >= 2, f"the run has {total} frame(s): nothing to play"
    if start == total:                       # the Play widget would restart from the first frame
        start = 1
    target = min(start + 2, total)
    image = first_scene(page).locator(".ds-diagram")
    expect(image, "the diagram (.ds-diagram)").to_have_count(1)
    src_before = image.get_attribute("src")
    play = first_scene(page).locator(".ds-play button").first
    for icon in first_scene(page).locator(".ds-play button i").all():
        if icon.is_visible():
            box = icon.bounding_box()
            assert box and box["width"] > 0, "the player's icons do not show (Font Awesome not loaded)"
    play.click()
    page.wait_for_function(
        """([re, target]) => {
            const m = (document.querySelector('.ds-scene .ds-frame')?.textContent || '').match(new RegExp(re));
            return m && +m[1] >= target;
        }""", arg=[_FRAME.pattern, target], timeout=UI_TIMEOUT)
    expect(image).not_to_have_attribute("src", src_before or "")
    if "fa-pause" in (play.locator("i").get_attribute("class") or ""):
        play.click()                         # pause, so the screenshot shows a steady frame
        expect(play.locator("i")).to_have_class(re.compile(r"\bfa-play\b"))


def ask_question(page, question: str | None = None):
    """Tap a staff-engineer question (the first, unless named): its answer must appear in the chat."""
    from playwright.sync_api import expect

    buttons = first_scene(page).locator(".ds-question")
    expect(buttons.first, "a staff-engineer question (.ds-question)").to_be_visible()
    button = buttons.filter(has_text=question.replace("`", "")).first if question else buttons.first
    asked = button.inner_text().strip()
    answers = first_scene(page).locator(".ds-chat .ds-answer")
    before = answers.count()
    button.click()
    expect(answers).to_have_count(before + 1)
    expect(answers.last).not_to_be_empty()
    assert answers.last.inner_text().strip(), f"the answer to {asked!r} is empty"


# An error output as JupyterLab and Voila render it: stderr output with a traceback in it, or a
# widget that could not be displayed.
_ERROR_OUTPUTS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def wait_for_scene(page, watched: Watched, timeout: float = KERNEL_TIMEOUT):
    """Wait until the scene (`.ds-scene`) is on the page, failing at once on an error on the way
    (a traceback in an output, a console error) rather than at the end of the timeout."""
    from playwright.sync_api import expect

    expect(page.locator(f".ds-scene, {_ERROR_OUTPUTS}").first).to_be_attached(timeout=timeout)
    assert_no_errors(page, watched)
    scene = first_scene(page)
    expect(scene).to_be_visible()
    return scene


def first_scene(page):
    """The notebook's first scene: what the checks play and set. A notebook may show more after it
    (scene 13's shard ring and scoreboard); each is a scene of its own, with the same widgets."""
    return page.locator(".ds-scene").first


def assert_no_errors(page, watched: Watched):
    problems = list(watched.errors())
    for text in page.locator(_ERROR_OUTPUTS).all_inner_texts():
        if "Traceback" in text or re.search(r"^\w*(Error|Exception)\b", text, re.M):
            problems.append(f"error output in the notebook:\n{text[:2000]}")
    for text in page.locator(".jp-OutputArea-output").all_inner_texts():
        if "Error displaying widget" in text or "Failed to display" in text:
            problems.append(f"a widget failed to render: {text[:500]}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# -- what a person sees ------------------------------------------------------------------------

def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box, "not on the page"
    return box


def check_crash_moment(page, shot: Path, min_width: float):
    """Jump to the crash (or, in a scene without one, the first incident) as a learner would, scroll
    the diagram to the top of the window, and check what the window shows: the diagram at least
    `min_width` px wide, drawn at about twice the pixels it is shown at, whole, and the lit code line
    under it, inside the window too. Saves the window as `shot`."""
    from playwright.sync_api import expect

    crash = first_scene(page).locator(".ds-jump-crash")
    button = crash if crash.is_enabled() else first_scene(page).locator(".ds-next-incident")
    expect(button, "jump to the crash, or to the next incident").to_be_enabled()
    before = first_scene(page).locator(".ds-frame").inner_text()
    button.click()
    expect(first_scene(page).locator(".ds-frame")).not_to_have_text(before)
    expect(first_scene(page).locator(".ds-now .ds-lit"), "the lit code line under the player (.ds-now)").to_have_count(1)
    image = first_scene(page).locator(".ds-diagram")
    image.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    box, lit = _box(image), _box(first_scene(page).locator(".ds-now .ds-lit"))
    natural, fit = image.evaluate("e => [[e.naturalWidth, e.naturalHeight], getComputedStyle(e).objectFit]")
    # what the picture is drawn at inside its box: `contain` keeps its shape, anything else fills the box
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    drawn = (natural[0] * scale, natural[1] * scale) if fit == "contain" else (box["width"], box["height"])
    # where the notebook's own scrolling area ends (JupyterLab's status bar is below it), or the window does
    bottom = image.evaluate("""e => { let b = window.innerHeight;
        for (let p = e.parentElement; p; p = p.parentElement) {
          const o = getComputedStyle(p).overflowY;
          if ((o === 'auto' || o === 'scroll') && p.scrollHeight > p.clientHeight) b = Math.min(b, p.getBoundingClientRect().bottom);
        } return b; }""")
    page.screenshot(path=str(shot))
    assert drawn[0] >= min_width, f"the diagram is drawn {drawn[0]:.0f} px wide (at least {min_width})"
    assert abs(drawn[0] / drawn[1] / (natural[0] / natural[1]) - 1) < 0.02, \
        f"the diagram is squashed: its PNG is {natural}, drawn at {drawn[0]:.0f}x{drawn[1]:.0f}"
    assert natural[0] >= 1.9 * drawn[0], f"the diagram's PNG is {natural[0]} px for {drawn[0]:.0f} px on screen"
    assert box["y"] >= -1 and box["y"] + box["height"] <= bottom + 1, f"the diagram is not all in view: {box}, to {bottom}"
    assert 0 <= lit["y"] and lit["y"] + lit["height"] <= bottom, \
        f"the lit code line is not in view with the diagram: line at {lit}, the view ends at {bottom:.0f}"
    # the player's line (frame, time, caption) is cut inside its box with an ellipsis, not by its box's edge
    line = first_scene(page).locator(".ds-frame > .widget-html-content").evaluate(
        "e => [e.scrollWidth, e.clientWidth, e.parentElement.clientWidth, getComputedStyle(e).textOverflow]")
    assert line[1] <= line[2] + 1 and (line[0] <= line[1] or line[3] == "ellipsis"), \
        f"the player's line is cut by its box, without an ellipsis: [text, shown, box, overflow] = {line}"


def check_no_money_as_math(page):
    """No markdown cell renders math: the course's dollar signs mean money ("$42.00"), and JupyterLab
    typesets `$...$` as TeX unless it is escaped."""
    math = page.locator(".jp-MarkdownOutput mjx-container, .jp-MarkdownOutput .MathJax, .jp-RenderedMarkdown mjx-container")
    found = math.count()
    if found:
        around = math.first.evaluate("e => (e.closest('p, li, td') || e.parentElement).innerText")
        pytest.fail(f"{found} piece(s) of markdown rendered as math, e.g. in: {around[:300]!r}", pytrace=False)
