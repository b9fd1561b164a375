"""The course's workflows on a real Temporal server, side by side with the course's engine.

    python -m bridge.live                    # every scenario; exit 1 if a difference is unexplained
    python -m bridge.live order signals      # some; --json FILE writes the comparison; --keep keeps logs
    python -m bridge.live --jobs 1           # one scenario at a time (default: all at once, on one server)
    python -m bridge.live --save             # all, saved as bridge/live-comparison.json (for the notebook)

For each scenario this starts the run on a real dev server (bridge/server.py) with a worker process of
Temporal ports, kills that worker with SIGKILL at the scene's crash point (the activity's process kills
itself right after the world acted, before anyone recorded the result: the moment of scene 01), starts
a new worker, and lets it finish. The scenarios run side by side on the one server, each on a task queue
of its own, with workflow ids of its own. The activities act on a durable world (a SQLite file, the course's
card network) with the course's idempotency key, the run id and the activity id, so the statement
shows what really happened to the card. The same run then goes through the course's engine, and the
two histories are compared event type by event type: each difference is named, and explained from
`EXPLAINED`, or reported as unexplained.
"""
from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKER_LIFETIME = 300      # a worker process exits on its own after this many seconds, whatever happens
SAVED = ROOT / "bridge" / "live-comparison.json"   # the last full run, for a machine without the server
TASK_QUEUE = "durable-sim"   # each scenario's own is durable-sim-<name>

# What may differ between the two histories, and why. A difference not listed is a finding.
EXPLAINED = {
    "WorkflowTaskTimedOut": "the workflow task waited on the dead worker's sticky queue: the server gives it "
                            "to the normal queue after the sticky timeout (Python SDK 10 s, ours 5 s); whether "
                            "a task is there when the worker dies depends on the moment of the kill",
    "UpsertWorkflowSearchAttributes": "Temporal's patched() also sets the TemporalChangeVersion search attribute "
                                      "(the patch ids), to find executions by the branch they took; the course's "
                                      "engine records only the patch marker",
}


@dataclass
class Side:
    types: list[str]
    result: object = None
    statement_cents: int = 0
    effects: dict = field(default_factory=dict)


@dataclass
class Comparison:
    name: str
    scene: str
    what: str
    server: Side
    course: Side
    differences: list[dict]

    @property
    def unexplained(self) -> list[dict]:
        return [d for d in self.differences if not d["why"]]


def compare(server: list[str], course: list[str]) -> list[dict]:
    """The differences between two lists of event types, each named (where, which events) and explained."""
    out = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=server, b=course, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        kinds = (set(server[a1:a2]) | set(course[b1:b2])) - {"WorkflowTaskScheduled"}   # (a timeout reschedules)
        why = "; ".join(EXPLAINED[k] for k in sorted(kinds)) if kinds and kinds <= set(EXPLAINED) else ""
        out.append({"at": a1 + 1, "server": server[a1:a2], "course": course[b1:b2], "why": why})
    return out


# -- the worker process: Temporal ports of the course's workflows, activities on the durable world ---------
def worker_main(ns) -> int:
    from temporalio import activity
    from temporalio.worker import Worker

    from bridge.live_ports import PORTS
    from simcore.home import DurableWorld

    world = DurableWorld(ns.world)
    crashed = Path(ns.world + f".crashed-{ns.crash_after}")

    def die_after(kind: str) -> None:   # the scene's crash point: the world acted, nobody recorded it
        if kind == ns.crash_after and not crashed.exists():
            crashed.write_text(str(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)
    world.on_effect = die_after

    def key() -> str:   # the course's idempotency key: the run id and the activity id
        info = activity.info()
        return f"{info.workflow_run_id}/{info.activity_id}"

    def refuse(name: str):   # a step the world refuses for good (scene 10's carrier: an invalid address)
        from temporalio.exceptions import ApplicationError
        if name in ns.refuse.split(","):
            raise ApplicationError("invalid address", type="InvalidAddress", non_retryable=True)

    def defn(name: str, do):
        @activity.defn(name=name)
        async def run(*args) -> str:   # (a few ms of SQLite: fine on the worker's event loop)
            refuse(name)
            return do(*args)
        return run
    activities = [
        defn("ChargeCard", lambda order, cents: world.charge(order, cents, key=key())),
        defn("RefundCard", lambda order, cents=None: world.refund(order, cents, key=key())),
        defn("ReserveInventory", lambda order: world.reserve(order, "mug", key=key())),
        defn("ReleaseInventory", lambda order: world.release(order, "mug", key=key())),
        defn("ShipPackage", lambda order: world.ship(order, key=key())),
        defn("ShipExpress", lambda order: world.ship(order, "express", key=key())),
        defn("ShipStandard", lambda order: world.ship(order, "standard", key=key())),
        defn("FraudCheck", lambda order, cents=0: world.effect("FraudCheck", order, key=key())),
        *(defn(f"Send{kind}", lambda order, kind=kind: world.email(order, kind.removesuffix("Email"), key=key()))
          for kind in ("ConfirmationEmail", "CancellationEmail", "ReviewRequest", "ReturnLabel"))]

    async def serve():
        from bridge.server import connect
        client = await connect(ns.address)
        ports = [PORTS[name] for name in ns.ports.split(",")]
        async with Worker(client, task_queue=ns.task_queue, workflows=ports, activities=activities):
            Path(ns.ready).write_text(str(os.getpid()))
            await asyncio.sleep(WORKER_LIFETIME)
    asyncio.run(serve())
    return 0


# -- the parent: a run on the server -------------------------------------------------------------
class Live:
    """One scenario's run on the server: its world file, its task queue, its workers, its workflow."""

    def __init__(self, server, client, name: str):
        self.server, self.client, self.name = server, client, name
        self.world = str(server.logs / f"{name}.world.sqlite")
        self.task_queue = f"{TASK_QUEUE}-{name}"   # so that scenarios running side by side never meet
        self.workers, self.procs = 0, []

    async def worker(self, ports: str, crash_after: str = "", refuse: str = "") -> object:
        """A worker process with these ports (names in PORTS, comma-separated), ready to poll; it kills
        itself after the world's `crash_after` effect, and its activities in `refuse` fail for good."""
        self.workers += 1
        tag = f"{self.name}-w{self.workers}"
        ready = self.server.logs / f"{tag}.ready"
        proc = self.server.spawn(tag, [sys.executable, "-m", "bridge.live", "worker", "--address",
                                       self.server.address, "--world", self.world, "--crash-after",
                                       crash_after or "-", "--ready", str(ready), "--ports", ports,
                                       "--refuse", refuse, "--task-queue", self.task_queue])
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while not ready.exists():   # (asleep in between: the other scenarios' runs go on meanwhile)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {tag} did not start: {self.server.log(tag)[-1500:]}")
            await asyncio.sleep(0.05)
        return proc

    def close(self) -> None:
        """Stop this run's workers (by pid)."""
        from bridge.server import stop
        for proc in self.procs:
            stop(proc, signal.SIGKILL)

    async def start(self, workflow_type: str, wid: str, *args):
        """Start a workflow on this run's task queue; its id on the server is `<scenario>/<wid>`."""
        self.handle = await self.client.start_workflow(workflow_type, args=list(args), id=f"{self.name}/{wid}",
                                                       task_queue=self.task_queue)
        return self.handle

    async def types(self) -> list[str]:
        return [e.type for e in await self.events()]

    async def events(self) -> list:
        from simcore.temporal import load
        history = await asyncio.wait_for(self.handle.fetch_history(), 15)
        return load(history.to_json(), f"{self.name} on the server").events

    async def chain(self) -> list[str]:
        """The event types of every run of this workflow id, a continue-as-new chain, each run marked."""
        from simcore import events as ev
        from simcore.temporal import load
        types, run_id, n = [], self.handle.first_execution_run_id or self.handle.run_id, 0
        while run_id:
            n += 1
            h = await asyncio.wait_for(self.client.get_workflow_handle(self.handle.id, run_id=run_id).fetch_history(), 15)
            events = load(h.to_json(), f"{self.name} run {n}").events
            types += [f"(run {n})"] + [e.type for e in events]
            run_id = events[-1].new_run_id if isinstance(events[-1], ev.WorkflowExecutionContinuedAsNew) else None
        return types

    async def until(self, predicate, timeout: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            types = await self.types()
            if predicate(types):
                return types
            if time.monotonic() > deadline:
                raise TimeoutError(f"[{self.name}] {what}: not in the server's history after {timeout:g} s: {types}")
            await asyncio.sleep(0.1)

    async def died(self, proc, timeout: float = 30) -> None:
        """Wait for a worker that kills itself at the crash point."""
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"[{self.name}] the worker never reached its crash point")
            await asyncio.sleep(0.05)

    def kill(self, proc) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    async def side(self, result_timeout: float = 90) -> Side:
        from simcore.home import DurableWorld
        from temporalio.client import WorkflowFailureError
        try:
            result = await asyncio.wait_for(self.handle.result(), result_timeout)
        except WorkflowFailureError as e:   # a workflow that ends failed (scene 10's saga), or cancelled
            from temporalio.exceptions import CancelledError
            result = "cancelled" if isinstance(e.cause, CancelledError) else \
                f"failed: {getattr(e.cause, 'message', e.cause)}"
        world = DurableWorld(self.world, readonly=True)
        return Side(await self.types(), result, world.statement_cents(), dict(world.effects()))


def course_side(sim, wid: str, run: str | None = None) -> Side:
    from simcore import events as ev
    history = sim.history.read(wid, run) if run else sim.history.read(wid)
    end = history[-1]
    result = (f"failed: {end.message}" if isinstance(end, ev.WorkflowExecutionFailed) else "cancelled"
              if isinstance(end, ev.WorkflowExecutionCanceled) else getattr(end, "result", None))
    return Side([e.type for e in history], result, sim.world.statement_cents(), dict(sim.world.effects()))


async def run_all(names: list[str], keep: bool, pids: list | None = None, jobs: int = 0) -> list[Comparison]:
    """The scenarios side by side on one server, at most `jobs` at a time (0: all), each reported in
    the order named, as soon as it and those before it are done."""
    from bridge.live_ports import SCENARIOS
    from bridge.server import DevServer, connect
    pids = [] if pids is None else pids
    room = asyncio.Semaphore(jobs or len(names))

    async def one(server, client, name: str) -> tuple[Comparison, float]:
        scene, what, on_server, on_course = SCENARIOS[name]
        async with room:
            t = time.monotonic()
            live = Live(server, client, name)
            try:
                theirs = await asyncio.wait_for(on_server(live), 180)
            finally:
                live.close()
                pids.extend(p.pid for p in live.procs)
            ours = on_course()
            return Comparison(name, scene, what, theirs, ours, compare(theirs.types, ours.types)), time.monotonic() - t

    out = []
    with DevServer(keep_logs=keep) as server:
        client = await connect(server.address)
        pids.append(server.server.pid)
        runs = [asyncio.create_task(one(server, client, name)) for name in names]
        try:
            for run in runs:
                c, seconds = await run
                print(report(c, seconds), flush=True)
                out.append(c)
        finally:   # after a failure, the others stop (and stop their workers) before the server does
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
    return out


def report(c: Comparison, seconds: float | None = None) -> str:
    took = f"  [{seconds:.0f} s on the server]" if seconds is not None else ""
    lines = [f"{c.name} (scene {c.scene}): {c.what}{took}",
             f"  server: {len(c.server.types)} events, result {c.server.result!r}, card "
             f"${c.server.statement_cents / 100:.2f}, effects {c.server.effects}",
             f"  course: {len(c.course.types)} events, result {c.course.result!r}, card "
             f"${c.course.statement_cents / 100:.2f}, effects {c.course.effects}"]
    if not c.differences:
        lines.append("  the same event types in the same order")
    for d in c.differences:
        lines.append(f"  at event {d['at']}: server {d['server'] or '-'}, course {d['course'] or '-'}: "
                     + (d["why"] or "UNEXPLAINED"))
    return "\n".join(lines)


def saved() -> list[Comparison]:
    """The comparison as `python -m bridge.live --json bridge/live-comparison.json` last wrote it."""
    doc = json.loads(SAVED.read_text(encoding="utf-8"))
    return [Comparison(**{**c, "server": Side(**c["server"]), "course": Side(**c["course"])}) for c in doc["scenarios"]]


def print_saved(*names: str) -> None:
    """Print the saved comparison (all scenarios, or those named)."""
    print("\n".join(report(c) for c in saved() if not names or c.name in names))


def show(*names: str) -> None:
    """For the notebook: run these scenarios on a real dev server now, if this machine has one; else say
    so and show the saved comparison of the last full run."""
    from bridge.server import ServerError, find_temporal
    try:
        find_temporal()
    except ServerError as e:
        print(f"{e}\nthe comparison saved from the last full run (python -m bridge.live --save):\n")
        print_saved(*names)
        return
    import subprocess   # in a process of its own: a notebook's kernel already runs an event loop
    done = subprocess.run([sys.executable, "-m", "bridge.live", *names], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    print((done.stdout + done.stderr).rstrip())


def main(argv: list[str]) -> int:
    if argv[:1] == ["worker"]:
        w = argparse.ArgumentParser(prog="python -m bridge.live worker")
        for opt in ("--address", "--task-queue", "--world", "--crash-after", "--ready", "--ports"):
            w.add_argument(opt, required=True)
        w.add_argument("--refuse", default="")
        return worker_main(w.parse_args(argv[1:]))
    from bridge.live_ports import SCENARIOS
    p = argparse.ArgumentParser(prog="python -m bridge.live", description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--json", help="write the comparison to this file")
    p.add_argument("--keep", action="store_true", help="keep the server's and workers' logs")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="run at most N scenarios at a time on the one server (default: all at once)")
    p.add_argument("--save", action="store_true", help=f"save the comparison as {SAVED.relative_to(ROOT)}, which "
                   "the Graduate notebook shows where no server is installed")
    ns = p.parse_args(argv)
    unknown = [s for s in ns.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"no scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    pids: list[int] = []
    try:
        results = asyncio.run(run_all(ns.scenarios or list(SCENARIOS), ns.keep, pids, ns.jobs))
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"python -m bridge.live: {e}", file=sys.stderr)
        return 2
    if ns.save:   # what the notebook shows on a machine without the server
        SAVED.write_text(json.dumps({"scenarios": [asdict(c) for c in results]}, indent=1, default=str) + "\n")
    if ns.json:   # with the pids it started (and stopped), for a test to check that none is left
        Path(ns.json).write_text(json.dumps({"pids": pids, "scenarios": [asdict(c) for c in results]}, indent=1,
                                            default=str) + "\n")
    return 1 if any(c.unexplained for c in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
