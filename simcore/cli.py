"""The command line: list scenes, list a scene's controls, run one configuration.

    python -m simcore scenes
    python -m simcore controls 01
    python -m simcore run 01 --set strategy=cron --set crash_after=ChargeCard [--seed N] [--json]

Bad input exits with status 2 and a message naming the valid choices; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import scenarios
from .events import HistoryError


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
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (scenarios.ControlError, HistoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


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
        settings[name.strip()] = value.strip()
    controls = scenarios.resolve(m, settings)
    run = m.simulate(seed=args.seed, **controls)
    if args.json:
        print(json.dumps(run.summary(), sort_keys=True))
    else:
        print(f"scene {m.NUMBER:02d} · {m.TITLE}: " + ", ".join(f"{k}={v}" for k, v in controls.items()))
        print("\n".join(m.outcome_lines(run)))
    return 0


COMMANDS = {"scenes": _scenes, "controls": _controls, "run": _run}
