"""Replay a Temporal history JSON against a port of ORDER #1001 with Temporal's own Replayer.

    python -m bridge.replay HISTORY.json [original|swapped|inserted]

Prints one JSON object as its last line: {"ok": true} or {"ok": false, "error": ..., "message": ...}
(Temporal's core may log warnings to stdout before it). Run it in a
subprocess with a timeout: a malformed history can make the SDK's native core hang.
"""
import asyncio
import json
import os
import sys

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from .order_workflow import VARIANTS


async def check(path: str, variant: str) -> dict:
    with open(path) as f:
        history = WorkflowHistory.from_json("order-1001", json.load(f))
    try:
        await Replayer(workflows=[VARIANTS[variant]]).replay_workflow(history)
    except Exception as e:   # the SDK's own verdict, reported as data
        return {"ok": False, "error": type(e).__name__, "message": str(e)}
    return {"ok": True}


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in VARIANTS):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps(asyncio.run(check(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "original"))),
          flush=True)
    os._exit(0)   # skip interpreter teardown: the SDK's native runtime sometimes crashes there (SIGSEGV)
