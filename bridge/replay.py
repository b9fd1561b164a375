"""Replay a Temporal history JSON against a Temporal port of a course workflow, with Temporal's own
Replayer: the CI replay test, run by the real SDK.

    python -m bridge.replay HISTORY.json [original|swapped|inserted|clock|review|cancel|subscription|v1|v2-naive|v2-patched|v3-deprecated|s09|saga]

Prints one JSON object as its last line, {"ok": true} or {"ok": false, "error": ..., "message": ...}
(Temporal's core may log warnings to stdout before it), and exits 0 when the history replays, 1 when
the SDK refuses it (non-determinism, a history it cannot read), 2 for bad arguments or a file that
is missing or not JSON. Run it in a subprocess with a timeout: a malformed history can make the
SDK's native core hang.
"""
import asyncio
import json
import os
import sys

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from .cancel_workflow import CancellableOrder
from .clock_workflow import FulfillOrderByClock
from .order_workflow import VARIANTS
from .saga_workflow import OrderSaga
from .signals_workflow import CancellableOrder as CancellableOrder09
from .review_workflow import ReviewLater
from .subscription_workflow import Subscription
from .version_workflow import V1, V2Naive, V2Patched, V3Deprecated

PORTS = {**VARIANTS, "clock": FulfillOrderByClock, "review": ReviewLater, "cancel": CancellableOrder,
         "subscription": Subscription, "v1": V1, "v2-naive": V2Naive, "v2-patched": V2Patched,
         "v3-deprecated": V3Deprecated, "s09": CancellableOrder09, "saga": OrderSaga}
USAGE = "usage: python -m bridge.replay HISTORY.json [" + "|".join(PORTS) + "]"


async def check(doc: dict, port: str) -> dict:
    try:
        history = WorkflowHistory.from_json("order-1001", doc)
        await Replayer(workflows=[PORTS[port]]).replay_workflow(history)
    except Exception as e:   # the SDK's own verdict, reported as data
        return {"ok": False, "error": type(e).__name__, "message": str(e)}
    return {"ok": True}


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] not in PORTS):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:   # RecursionError: [[[[... thousands deep
        reason = "JSON nested too deeply" if isinstance(e, RecursionError) else getattr(e, "strerror", None) or e
        print(f"{argv[0]}: cannot read a Temporal history JSON: {reason}", file=sys.stderr)
        return 2
    verdict = asyncio.run(check(doc, argv[1] if len(argv) == 2 else "original"))
    print(json.dumps(verdict), flush=True)
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)   # skip interpreter teardown: the SDK's native runtime sometimes crashes there (SIGSEGV)
