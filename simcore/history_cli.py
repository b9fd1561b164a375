"""The `history` commands: show, check, export, import and replay a history (`simcore.cli` is the
boundary every command goes through; docs/CLI.md has their exit statuses)."""
from __future__ import annotations

import json
import os
import sys

from . import check, registry, temporal
from . import events as ev
from .events import HistoryError


def add_parser(sub, order_id) -> None:
    p = sub.add_parser("history", help="print or verify a home's history")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (("show", "print the events readably"),
                       ("check", "verify the history; say exactly what is wrong and where"),
                       ("export", "write an order's history as Temporal history JSON")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--home", required=True, metavar="DIR")
        which = a.add_mutually_exclusive_group()
        which.add_argument("--order", type=order_id, default="1001" if name == "export" else None,
                           help="only this order" + (" (default 1001)" if name == "export" else " (default: all)"))
        which.add_argument("--id", metavar="WORKFLOW_ID", help="only this workflow id (any workflow)")
        if name == "check":
            a.add_argument("--workflow", action="append", metavar="MODULE:NAME",
                           help="replay against this @workflow (repeatable; default: the course's)")
        if name == "export":
            a.add_argument("--format", choices=["temporal"], default="temporal",
                           help="temporal: what `temporal workflow show --output json` prints")
            a.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    a = actions.add_parser("import", help="show a Temporal history JSON the way the course's history panel does")
    a.add_argument("file")
    a = actions.add_parser("replay", help="replay saved histories against workflow code; fail on non-determinism")
    a.add_argument("files", nargs="+", metavar="FILE", help="a history JSON: the course's (history show's "
                   "events) or Temporal's")
    a.add_argument("--workflow", action="append", metavar="MODULE:NAME",
                   help="the @workflow to replay against (repeatable; default: the course's)")



def run(args) -> int:
    from . import audit, home
    if args.action == "import":
        return _import(args.file)
    if args.action == "replay":
        return _replay(args.files, registry.workflows(args.workflow))
    d = home.locate(args.home)
    path = d / home.HISTORY
    chosen = args.id or (f"order-{args.order}" if args.order else None)
    if args.action == "export":
        return _export(args, path, chosen)
    if args.action == "check":
        wid = chosen
        report = check.check_file(path, registry.workflows(args.workflow), wid)
        if wid and report.ok and wid not in report.workflows:
            raise home.HomeError(f"{path}: no history for {wid}")
        report.problems += audit.compare(d, wid)   # what order run compares before it acts
        for p in report.problems:
            print(p)
        counts = ", ".join(f"{w} ({n} events)" for w, n in report.workflows.items()) or "no workflows"
        verdict = "ok" if report.ok else f"{len(report.problems)} problem{'s' * (len(report.problems) != 1)}"
        print(f"{path}: {counts}: {verdict}")
        return 0 if report.ok else 1
    runs = check.read_rows(path)
    if chosen:
        runs = {k: v for k, v in runs.items() if k[0] == chosen}
        if not runs:
            raise home.HomeError(f"{path}: no history for {chosen}")
    bad = 0
    for (wid, run), rows in runs.items():
        where = f"{path} workflow {wid!r}"
        events, problems = check.parse_rows(rows, where)
        print(f"{path} · {wid}{f' run {run}' if run != '1' else ''} · {len(rows)} events")
        t0 = next((e.time for e in events if e), 0.0)
        for row, e in zip(rows, events):
            if e is None:
                print(f"  {row[0]!s:>3.10}  !! unreadable: {row[1]!s:.40} {str(row[3])[:60]!r}")
            else:
                print(_line(e, e.time - t0))
        for p in problems:
            print(p, file=sys.stderr)
        bad += len(problems)
    if not runs:
        print(f"{path}: no workflows yet")
    return 1 if bad else 0


def _line(e, t: float) -> str:
    """One event as the history panel shows it (a retried activity's start names the last failure)."""
    return f"  {e.event_id:>3}  +{t:8.3f}s  {e.summary()}"


def _export(args, path, wid: str) -> int:
    """Export one workflow's history, refusing one that is not well formed (Temporal would refuse it,
    or worse, read it differently): the problems that `history check` would list."""
    rows = check.read_rows(path).get((wid, "1"))
    if not rows:
        raise HistoryError(f"{path}: no history for {wid}")
    where = f"{path} workflow {wid!r}"
    events, _ = check.parse_rows(rows, where)
    problems = check.check_rows(rows, wid, where)   # the rows, then the story; not the code
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise HistoryError(f"the history cannot be exported as it is: {problems[0]}{more}; run "
                           f"`python -m simcore history check --home {args.home}` for all problems")
    from .home import UNIX_EPOCH
    write_json(temporal.export(events, epoch=UNIX_EPOCH), args.out)   # a real process's times
    return 0


def _import(file: str) -> int:
    data = _read_file(file)
    imported = temporal.load(data, file)
    start = f", from {imported.start:%Y-%m-%d %H:%M:%S} UTC" if imported.start else ""
    print(f"{file} · {len(imported.events)} events (Temporal history{start})")
    for e in imported.events:
        print(_line(e, e.time))
    return 0


def _read_file(file: str) -> bytes:
    """A history JSON's bytes. A home's SQLite store is refused by name: it holds many workflows, and
    `history export` writes one of them as JSON."""
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise HistoryError(f"{file}: cannot read ({e.strerror or e})") from None
    if data.startswith(b"SQLite format 3\0"):
        raise HistoryError(f"{file}: a SQLite history store (a home's history.sqlite), not a history JSON; write "
                           "one of its workflows as JSON first: python -m simcore history export --format temporal "
                           f"--home {os.path.dirname(file) or '.'} --out h.json")
    return data


def _replay(files: list[str], code: dict) -> int:
    """Replay each saved history against the code: the test that catches a non-deterministic change
    before it is deployed. Exit 1 if any history does not replay; 2 if one is not a history at all
    (not JSON, the wrong shape, events that do not fit together)."""
    from .history import load
    from .replay import NonDeterminismError
    from .replayer import replay
    from .world import World, entered
    failed = 0
    for file in files:
        data = _read_file(file)
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            reason = "JSON nested too deeply" if isinstance(e, RecursionError) else e
            raise HistoryError(f"{file}: not a history JSON ({reason})") from None
        events = temporal.load(doc, file).events if isinstance(doc, dict) else load(json.dumps(doc), file)
        odd = next((e for e in events if isinstance(e, temporal.TemporalEvent)), None)
        if odd:
            raise HistoryError(f"{file}: event {odd.event_id} is a {odd.type}, which the course does not model; "
                               "replay it with Temporal's own Replayer (python -m bridge.replay)")
        if not events or not isinstance(events[0], ev.WorkflowExecutionStarted):
            raise HistoryError(f"{file}: a history must begin with WorkflowExecutionStarted")
        wrong = [p for e in events for p in (f"event {e.event_id} ({e.type}): {m}" for m in check.field_problems(e))]
        wrong += [p.message for p in check.check_story(events, events[0].workflow_id, file)]
        if wrong:
            raise HistoryError(f"{file}: not a history the engine could have written: {wrong[0]}"
                               + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
        kind = events[0].workflow_type
        if kind not in code:
            raise registry.RegistryError(f"{file}: its workflow type is {kind!r}, and no code for it was given "
                                         f"(have: {', '.join(code)}); name it with --workflow MODULE:NAME")
        with entered(World()):   # code that reads the machine's clock reads this machine's, as in CI
            try:
                result = replay(code[kind], events)
            except (NonDeterminismError, HistoryError):
                raise
            except Exception as e:   # the workflow's code met data it cannot take (as check_code reports it)
                print(f"{file}: FAILED: replaying {kind} failed: {type(e).__name__}: {e}")
                failed += 1
                continue
        print(f"{file}: {result}" if result.ok else f"{file}: FAILED: {result.error}")
        failed += not result.ok
    return 1 if failed else 0


def write_json(doc: dict, out: str | None) -> None:
    text = json.dumps(doc, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise HistoryError(f"{out}: cannot write ({e.strerror})") from None
    print(f"wrote {out}", file=sys.stderr)

