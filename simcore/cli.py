"""The command line: list scenes, list a scene's controls, run one configuration; run ORDER #1001 as
a real process in a home directory, and read or verify a home's history (`simcore.history_cli`).

    python -m simcore scenes
    python -m simcore controls 01
    python -m simcore run 01 --set strategy=cron --set crash_after=ChargeCard [--seed N] [--json]
    python -m simcore order run --home DIR [--order 1001] [--pace-ms N] [--wait SECONDS]
    python -m simcore order status --home DIR [--order 1001] [--json]
    python -m simcore history show --home DIR [--order 1001 | --id WORKFLOW_ID]
    python -m simcore history check --home DIR [--id WORKFLOW_ID] [--workflow MODULE:NAME ...]
    python -m simcore history export --format temporal --home DIR [--order 1001 | --id WORKFLOW_ID] [--out FILE]
    python -m simcore history import FILE        (a Temporal history JSON, shown as the course shows one)
    python -m simcore history replay FILE... [--workflow MODULE:NAME ...]   (the replay test of CI)
    python -m simcore run 01 --set strategy=durable --export-history FILE

Every command has one boundary (`main`): bad input, and a home, history, world or file that cannot be
used, is a message on standard error saying what is wrong and what to do, with exit status 2; never a
traceback (only a bug in the engine is one). `history check` and `history show` exit 1 when they find
problems, `history replay` when a history does not replay against the code; `order run` exits 3 when
another process owns the order; 130 on Ctrl-C; 141 when standard output is closed early (`| head`),
quietly, as a command killed by SIGPIPE. The statuses, with examples: docs/CLI.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

from . import history_cli, registry, scenarios, temporal
from .codec import not_json
from .events import HistoryError
from .workflow import LONGEST_TIMER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simcore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("scenes", help="list the scenes")
    p = sub.add_parser("controls", help="list a scene's controls, their values and defaults")
    p.add_argument("scene")
    p = sub.add_parser("run", help="run one configuration of a scene and print its outcome")
    p.add_argument("scene")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="set a control")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--export-history", metavar="FILE", help="also write the run's history as Temporal JSON")
    _order_commands(sub)
    history_cli.add_parser(sub, _order_id)
    _tolerant_output()
    from .home import Busy, HomeError
    try:
        args = parser.parse_args(argv)   # bad flags: argparse prints the usage and exits 2
        code = COMMANDS[args.command](args)
        sys.stdout.flush()               # a closed pipe shows here, inside the boundary, not at exit
        return code
    except BrokenPipeError:
        return _output_closed()
    except Busy as e:
        return _fail(f"busy: {e}", 3)
    except (scenarios.ControlError, registry.RegistryError, HistoryError, HomeError) as e:
        return _fail(f"error: {e}", 2)
    except OSError as e:   # the machine said no: a file or folder that cannot be read or written, a full disk
        where = f"{e.filename}: " if e.filename else ""
        return _fail(f"error: {where}{e.strerror or e}", 2)
    except KeyboardInterrupt:
        return _fail("interrupted: what was recorded stays recorded; run the same command again to carry on", 130)


EXIT = {"ok": 0, "problems": 1, "error": 2, "busy": 3, "interrupted": 130, "output closed": 141}   # docs/CLI.md


def _fail(message: str, code: int) -> int:
    try:
        print(message, file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        return _output_closed()
    except (OSError, ValueError):
        pass   # standard error closed too: the status says it
    return code


def _output_closed() -> int:
    """Standard output was closed before we finished (`... | head`): stop quietly with 141, the status
    of a command killed by SIGPIPE. What was written to files or recorded stays; point standard output
    at /dev/null so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass   # not a real file (a test's capture): nothing to redirect
    return 141


def _tolerant_output() -> None:
    """A history may hold any text, including what the terminal's encoding cannot show (a lone
    surrogate from a JSON escape): print it escaped rather than fail halfway through a listing. A
    stream that was closed before we started (`>&-`) is the null device: the command still runs."""
    sys.stdout = sys.stdout or open(os.devnull, "w")
    sys.stderr = sys.stderr or open(os.devnull, "w")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _scenes(args) -> int:
    for m in scenarios.all_scenes():
        print(f"{m.NUMBER:02d}  {m.TITLE}")
    return 0


def _controls(args) -> int:
    m = scenarios.load(args.scene)
    print(f"scene {m.NUMBER:02d} · {m.TITLE}")
    for c in m.CONTROLS:
        print(f"  {c.name:<14} {' | '.join(map(str, c.choices))}   (default {c.default}): {c.help}")
    return 0


def _run(args) -> int:
    m = scenarios.load(args.scene)
    settings = {}
    for item in args.set:
        name, eq, value = item.partition("=")
        if not eq:
            raise scenarios.ControlError(f"--set takes NAME=VALUE, got {item!r}")
        if name.strip() in settings and settings[name.strip()] != value.strip():
            raise scenarios.ControlError(f"--set {name.strip()} is given twice ({settings[name.strip()]!r} and "
                                         f"{value.strip()!r}); give it once")
        settings[name.strip()] = value.strip()
    if args.export_history is not None and not args.export_history.strip():
        raise scenarios.ControlError("--export-history takes a file name, got nothing")
    controls = scenarios.resolve(m, settings)
    run = m.simulate(seed=args.seed, **controls)
    if args.export_history:
        if not run.history:
            raise scenarios.ControlError(f"this run keeps no history to export (outcome {run.outcome}, "
                                         f"{', '.join(f'{k}={v}' for k, v in controls.items())}); "
                                         "choose a strategy that records one, e.g. --set strategy=durable")
        history_cli.write_json(temporal.export(run.history, epoch=run.sim.epoch), args.export_history)
    if args.json:
        print(json.dumps(run.summary(), sort_keys=True))
    else:
        shown = getattr(m, "shown", lambda c: c)(controls)   # a scene in parts names only the part's controls
        print(f"scene {m.NUMBER:02d} · {m.TITLE}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        print("\n".join(m.outcome_lines(run)))
    return 0


def _order_commands(sub) -> None:
    p = sub.add_parser("order", help="run ORDER #1001 as a real process in a home directory; its status")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (("run", "run (or resume) the order under the durable engine, in real time"),
                       ("status", "the order's statement, effects, outcome and history length"),
                       ("signal", "send a signal to the order's workflow (recorded even while no process runs)"),
                       ("query", "ask the order's workflow a query: replays its history, writes nothing")):
        a = actions.add_parser(name, help=text)
        if name in ("signal", "query"):
            a.add_argument("name", help=f"the {name}'s name, e.g. " + ("cancel" if name == "signal" else "status"))
        if name == "signal":
            a.add_argument("input", nargs="?", help="its input, as JSON (e.g. '\"changed my mind\"')")
        a.add_argument("--home", required=True, metavar="DIR", help="the home directory (created by `run`)")
        which = a.add_mutually_exclusive_group()
        which.add_argument("--order", type=_order_id, default="1001", help="the order number (default 1001)")
        which.add_argument("--id", metavar="WORKFLOW_ID", help="the workflow id (any workflow)")
        if name in ("run", "query"):
            a.add_argument("--workflow", **({} if name == "run" else {"action": "append"}), metavar="MODULE:NAME",
                           help="run (or resume) this @workflow instead of ORDER #1001" if name == "run" else
                           "the @workflow whose query handler answers (default: the course's)")
        if name == "run":
            a.add_argument("--input", metavar="JSON", help="with --workflow: its arguments, a JSON list")
            a.add_argument("--review-after", type=_seconds, metavar="DURATION",
                           help="ORDER #1001 then a review request this long after (30s, 5m, 2h): a durable timer")
            a.add_argument("--pace-ms", type=_count("--pace-ms", 600_000), default=0, metavar="N",
                           help="each activity takes N milliseconds (time for an outside kill to land)")
            a.add_argument("--wait", type=_count("--wait", 3600), default=0, metavar="SECONDS",
                           help="if another process runs the order, wait this long for it (default: exit 3)")
        if name == "status":
            a.add_argument("--json", action="store_true", help="print one JSON object")

def _workflow_and_input(args):
    """The workflow `order run` runs and its input: ORDER #1001 (with --review-after, its review request
    later), or any @workflow named MODULE:NAME with --input JSON."""
    from .orders import CENTS, fulfill_and_review, fulfill_order
    if args.workflow:
        if args.review_after is not None:
            raise registry.RegistryError("--review-after belongs to ORDER #1001; give your workflow's own "
                                         "input with --input")
        inputs = _json_arg("--input", args.input or "[]")
        if not isinstance(inputs, list):
            raise registry.RegistryError(f"--input takes a JSON list of the workflow's arguments, got {args.input}")
        return registry.load(args.workflow), inputs
    if args.input:
        raise registry.RegistryError("--input goes with --workflow MODULE:NAME (ORDER #1001 takes its number "
                                     "with --order)")
    if args.review_after is not None:
        return fulfill_and_review, [args.order, CENTS, args.review_after]
    return fulfill_order, [args.order, CENTS]


def _json_arg(flag: str, text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=not_json)
    except ValueError as e:
        raise registry.RegistryError(f"{flag}: not JSON ({e}); e.g. '[\"1001\", 4200]' or '\"a reason\"'") from None


def _seconds(text: str) -> float:
    """`30s`, `5m`, `2h`, `1d` or plain seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.strip())
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"--review-after takes a duration like 30s, 5m, 2h or 1d, got {text!r}")
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds > LONGEST_TIMER:
        raise argparse.ArgumentTypeError(f"--review-after {text}: a timer lasts at most 10,000 years")
    return seconds


def _order_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an order number (letters, digits, - and _)")
    return text


def _count(flag: str, most: int):
    def parse(text: str) -> int:
        if not text.isdecimal() or int(text) > most:
            raise argparse.ArgumentTypeError(f"{flag} takes a whole number from 0 to {most}, got {text!r}")
        return int(text)
    return parse


def _order(args) -> int:
    from . import audit, home, realtime
    say = lambda line: print(line, flush=True)   # noqa: E731 (flushed: a kill must not eat lines)
    wid = getattr(args, "id", None) or f"order-{args.order}"
    if args.action == "run":
        workflow, inputs = _workflow_and_input(args)
        realtime.run(args.home, workflow, wid, inputs, pace_ms=args.pace_ms, wait=args.wait, say=say)
        return 0
    if args.action == "signal":
        print(realtime.signal(args.home, wid, args.name, _json_arg("INPUT", args.input)))
        return 0
    if args.action == "query":
        code = registry.workflows(args.workflow) | home.WORKFLOWS
        print(json.dumps(realtime.query(args.home, wid, args.name, code)))
        return 0
    out = audit.status(args.home, args.order, args.id)
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 1 if out["problems"] else 0
    print(f"home: {out['home']} · {out['workflow_id']}")
    charges, refunds = out["charges"], out["refunds"]
    print(f"statement: ${out['statement_cents'] / 100:.2f} ({charges} charge{'s' * (charges != 1)}"
          + (f", {refunds} refund{'s' * (refunds != 1)})" if refunds else ")"))
    from .orders import STEPS
    steps = [*STEPS, *(kind for kind in out["effects"] if kind not in STEPS)]   # and a workflow's own
    print("effects: " + ", ".join(f"{step} x{out['effects'].get(step, 0)}" for step in steps))
    print(f"outcome: {out['outcome']}")
    print(f"history: {out['history_events']} events")
    if out["problems"]:   # the lines above may not be the truth: say so, and where to look
        print(f"history check: {out['problems']} problem{'s' * (out['problems'] != 1)}; "
              f"`python -m simcore history check --home {args.home}` lists them")
        return 1
    return 0


COMMANDS = {"scenes": _scenes, "controls": _controls, "run": _run, "order": _order, "history": history_cli.run}
