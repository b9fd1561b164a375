"""Fuzzing the command line: random commands, flags and values, pointed at a good home, a damaged
one, files that are not homes, and paths that do not exist.

The property: every run ends with one of the documented exit statuses (docs/CLI.md), a status 2 comes
with a message on standard error and never a traceback; and a read-only command leaves the homes and
files it was pointed at byte for byte as they were.
"""
import os
import shutil

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simcore import home, realtime
from simcore.cli import EXIT, main
from tests.conftest import FIXTURES

SCALE = int(os.environ.get("SIMCORE_FUZZ_SCALE", "1"))   # e.g. 20 for a long run
WRITES = {("order", "run"), ("run",)}   # `run --export-history` writes the file it is given


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A folder of things to point a command at."""
    d = tmp_path_factory.mktemp("cli")
    realtime.run_order(d / "good", say=lambda line: None)
    shutil.copytree(d / "good", d / "damaged")
    data = bytearray((d / "damaged" / home.HISTORY).read_bytes())
    data[len(data) // 2] ^= 0x55
    (d / "damaged" / home.HISTORY).write_bytes(bytes(data))
    (d / "empty").mkdir()
    (d / "file.txt").write_text("not a folder")
    (d / "junk.json").write_bytes(b"\x00\xffnot json")
    (d / "wrong.json").write_text('{"events": [{"eventId": "x"}]}')
    shutil.copy(FIXTURES / "order-1001.json", d / "ours.json")
    shutil.copy(FIXTURES / "temporal-server" / "retried.json", d / "theirs.json")
    return d


PATHS = ["good", "damaged", "empty", "file.txt", "junk.json", "wrong.json", "ours.json", "theirs.json", "missing",
         "missing/deeper", ""]
junk = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
value = st.sampled_from(["1001", "7", "0", "-1", "01", "99", "x", "a=b", "strategy=durable", "crash_after=ChargeCard",
                         "strategy=cron", "MODULE:NAME", "simcore.orders:fulfill_order", "os:system", "temporal",
                         "json", "--json", "-h", "", " ", "é", "order-1001"]) | junk
FLAGS = ["--home", "--order", "--id", "--json", "--set", "--seed", "--pace-ms", "--wait", "--format", "--out",
         "--workflow", "--export-history", "--help", "--bogus", "-x"]
GRAMMAR = {   # each command, its positionals (how many, of which kind) and its own flags
    ("scenes",): (0, "", []),
    ("controls",): (1, "scene", []),
    ("run",): (1, "scene", ["--set", "--set", "--seed", "--json", "--export-history"]),
    ("order", "run"): (0, "", ["--home", "--order", "--pace-ms", "--wait"]),
    ("order", "status"): (0, "", ["--home", "--order", "--json"]),
    ("history", "show"): (0, "", ["--home", "--order", "--id"]),
    ("history", "check"): (0, "", ["--home", "--order", "--id", "--workflow"]),
    ("history", "export"): (0, "", ["--home", "--order", "--id", "--format", "--out"]),
    ("history", "import"): (1, "file", []),
    ("history", "replay"): (3, "file", ["--workflow", "--workflow"]),
    ("order",): (0, "", []), ("history",): (0, "", []), ("nonsense",): (0, "", []), (): (0, "", []),
}
SCENES = ["01", "1", "02", "03", "05", "07", "99", "x"]
SETS = ["strategy=durable", "strategy=cron", "strategy=plain", "crash_after=ChargeCard", "crash_after=ShipPackage",
        "crash_after=none", "strategy", "=", "speed=3", "code=ctx_now", "code=wall_clock"]


@st.composite
def argv(draw, where):
    """Mostly well-formed command lines (so the commands run), with wrong values, missing and foreign
    flags mixed in."""
    command = draw(st.sampled_from(sorted(GRAMMAR)))
    most, kind, flags = GRAMMAR[command]
    args = list(command)
    for _ in range(draw(st.integers(0 if most == 0 else 1, max(most, 1)))):
        if kind == "scene":
            args.append(draw(st.sampled_from(SCENES) | value))
        elif kind == "file":
            args.append(str(where / draw(st.sampled_from(PATHS))))
    chosen = [f for f in flags if draw(st.integers(0, 2))] + \
        [draw(st.sampled_from(FLAGS)) for _ in range(draw(st.integers(0, 4)) // 3)]   # now and then a foreign one
    if "--home" in flags and "--home" not in chosen and draw(st.integers(0, 4)):
        chosen.append("--home")
    for flag in chosen:
        args.append(flag)
        if flag in ("--home", "--out", "--export-history"):
            args.append(str(where / draw(st.sampled_from(PATHS + ["new", "new.json"]))))
        elif flag in ("--pace-ms", "--wait"):
            args.append(draw(st.sampled_from(["0", "1", "-1", "x", "1e3", "999999999"])))   # never a long sleep
        elif flag == "--set":
            args.append(draw(st.sampled_from(SETS) | value))
        elif flag == "--order":
            args.append(draw(st.sampled_from(["1001", "7", "1002"]) | value))
        elif flag == "--id":
            args.append(draw(st.sampled_from(["order-1001", "order-7", "nobody"]) | value))
        elif flag == "--workflow":
            args.append(draw(st.sampled_from(["simcore.orders:fulfill_order", "simcore.scenarios.s03:fulfill_ctx_now",
                                              "simcore.orders:STEPS", "os:system", "no.such:x", "nope"]) | value))
        elif flag not in ("--json", "--help"):
            args.append(draw(value))
    return args


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@settings(max_examples=600 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_command_line_ends_in_a_documented_status_without_a_traceback(place, capsys, monkeypatch, data):
    monkeypatch.chdir(place)   # a relative path a value happens to be stays in the fixture's folder
    args = data.draw(argv(place))
    before = snapshot(place)
    try:
        code = main(args)
    except SystemExit as e:   # argparse: --help (0) or a usage error (2)
        code = e.code
    out, err = capsys.readouterr()
    event(f"{' '.join(a for a in args[:2] if not a.startswith(('/', '-')))}: exit {code}")
    assert code in EXIT.values(), (args, code, err)
    assert "Traceback" not in err, (args, err)
    if code == 2:
        assert err.strip(), (args, out)
    writes = tuple(args[:2]) in WRITES or args[:1] == ["run"] or "--out" in args
    if not writes:
        assert snapshot(place) == before, args
    else:   # restore the folder for the next example
        for name in set(snapshot(place)) - set(before):
            (place / name).unlink()
        for d in sorted((p for p in place.rglob("*") if p.is_dir()), reverse=True):
            if not any(d.iterdir()) and d.name != "empty":
                d.rmdir()
        for name, content in before.items():
            if (place / name).read_bytes() != content:
                (place / name).write_bytes(content)


def test_the_documented_statuses_are_the_ones_used(tmp_path, capsys):
    """docs/CLI.md lists each status; here each is produced once."""
    doc = (FIXTURES.parent.parent / "docs" / "CLI.md").read_text()
    for name, code in EXIT.items():
        assert f"| {code} |" in doc, (name, code)
    assert main(["scenes"]) == EXIT["ok"]
    assert main(["run", "99"]) == EXIT["error"]
    realtime.run_order(tmp_path, say=lambda line: None)
    path = tmp_path / home.HISTORY
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("DELETE FROM events WHERE event_id = 12")
    db.commit()
    db.close()
    assert main(["history", "check", "--home", str(tmp_path)]) == EXIT["problems"]
    capsys.readouterr()
