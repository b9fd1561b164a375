"""Scene 07 · Idempotency keys: the last hole in the double-charge.

The durable engine runs ChargeCard at least once: a lost request, a lost response, a response that
comes too late and a worker that dies after the charge all end the same way for the engine, an
attempt without an answer, retried after its start_to_close. Only the card network can tell them
apart, and only if each request carries a key it remembers (`World.keys()`: a key it has seen gets
the first result back, and no second charge).

The worker registers one of three ChargeCard bodies (the `key` control), as a Temporal worker
registers an implementation for an activity type: no key, a new random key per attempt, or the
stable `act.idempotency_key`: the workflow run id and the activity id (`<run id>/1`), the same on every
attempt of this one call. Everything shown is read from the run: the network's messages
(`sim.messages`), the world's log, the history and the frames.
"""
from __future__ import annotations

import random
import re
import uuid
from dataclasses import replace

from .. import orders
from ..engine import Engine
from ..faults import CallFault, Crash, FaultPlan
from ..orders import reserve_inventory, send_confirmation_email, ship_package
from ..sim import Run, Sim
from ..workflow import ActivityContext, activity, workflow
from . import Control
from .lines import effects_line, statement_line

NUMBER = 7
TITLE = "Idempotency keys: the last hole in the double-charge"
WID, CALLER, SECONDS, START_TO_CLOSE, DELAY = f"order-{orders.ORDER_ID}", "worker-1", 2.0, 5, 10.0
PROCESSING = 0.5   # seconds the card network takes over a charge: a same-key request meanwhile gets 409
FAULTS = {
    "none": FaultPlan(),
    "request_lost": FaultPlan(calls=(CallFault("ChargeCard", "request_lost"),)),
    "response_lost": FaultPlan(calls=(CallFault("ChargeCard", "response_lost"),)),
    "duplicate": FaultPlan(calls=(CallFault("ChargeCard", "duplicate"),)),
    "delay": FaultPlan(calls=(CallFault("ChargeCard", "delay", seconds=DELAY),)),
    "worker_dies_after_effect": FaultPlan(crashes=(Crash("ChargeCard", when="after_effect"),)),
}
KEYS = ("none", "random", "stable")
CONTROLS = (
    Control("fault", tuple(FAULTS), "response_lost", "what goes wrong with ChargeCard's first attempt"),
    Control("key", KEYS, "none", "the idempotency key each ChargeCard request carries"),
)


def random_key(act) -> str:
    """What `str(uuid.uuid4())` at the top of an attempt gives: new on every attempt. Seeded by the
    attempt, so a run repeats exactly and a request the network duplicates carries its original's
    key (a retrying layer resends the same bytes, key and all)."""
    rng = random.Random(f"{act.workflow_id}/{act.activity_id}/attempt {act.attempt}")
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@activity("ChargeCard", seconds=SECONDS)
def charge_without_key(act, order_id, cents):
    return act.world.charge(order_id, cents)


@activity("ChargeCard", seconds=SECONDS)
def charge_with_random_key(act, order_id, cents):
    key = random_key(act)              # a fresh uuid4 for every attempt
    return act.world.charge(order_id, cents, key=key)


@activity("ChargeCard", seconds=SECONDS)
def charge_with_stable_key(act, order_id, cents):
    key = act.idempotency_key          # "<run id>/1": this call's, on every attempt
    return act.world.charge(order_id, cents, key=key)


CHARGE_CARD = {"none": charge_without_key, "random": charge_with_random_key, "stable": charge_with_stable_key}


@workflow
def fulfill_order(ctx, order_id, cents, key):
    # CHARGE_CARD[key]: the body this run's worker registers (all three are "ChargeCard");
    # no answer within 5 s and the engine gives up on the attempt and retries it
    charge_id = yield ctx.activity(CHARGE_CARD[key], order_id, cents, start_to_close=START_TO_CLOSE)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.activity(ship_package, order_id)
    yield ctx.activity(send_confirmation_email, order_id)
    return f"order {order_id} fulfilled, charge {charge_id}"


def simulate(fault: str = "response_lost", key: str = "none", seed: int = 0) -> Run:
    sim = Sim(seed=seed, faults=FAULTS[fault], watch=WID)
    sim.world.processing = PROCESSING
    said = sim.message

    def message(src, dst, text, lost=False):   # a frame for each request the worker sends
        said(src, dst, text, lost)
        if src == CALLER and text.startswith("ChargeCard"):
            n = attempt_of(text)
            sim.trace.frame(f"{src} sends ChargeCard attempt {n} ({key_text(key, n, sim.history.read(WID)[0].run_id)})")
    sim.message = message
    engine = Engine(sim, [fulfill_order], (CHARGE_CARD[key], reserve_inventory, ship_package, send_confirmation_email))
    sim.trace.frame(f"ORDER #{orders.ORDER_ID} arrives; ChargeCard gives up on an attempt after {START_TO_CLOSE} s")
    engine.start(fulfill_order, WID, orders.ORDER_ID, orders.CENTS, key)
    sim.run(until=3600)
    run = Run("07", {"fault": fault, "key": key}, seed, sim, fulfill_order, WID,
              "completed" if WID in engine.closed else "running", sim.history.read(WID))
    run.engine = engine
    return run


def attempt_of(text: str) -> int:
    """The attempt number in a message's text: "ChargeCard #2 request" -> 2."""
    return int(re.search(r"#(\d+)", text).group(1))


def key_for(key: str, attempt: int, run_id: str) -> str | None:
    """The key that attempt `attempt` sends: what the registered ChargeCard body computes."""
    act = ActivityContext(None, WID, "1", "ChargeCard", attempt, run_id)   # the first activity: id "1"
    return None if key == "none" else random_key(act) if key == "random" else act.idempotency_key


def key_text(key: str, attempt: int, run_id: str) -> str:
    """A key as a line can show it: the random one's first digits; the stable one's run id, shortened,
    and its activity id (`85ceee91…/1`)."""
    k = key_for(key, attempt, run_id)
    return "no key" if k is None else f"key {k[:8]}\u2026" + (k[k.rindex("/"):] if key == "stable" else "")


# -- what each side saw ------------------------------------------------------------------------------
def attempts(run) -> list[dict]:
    """Each ChargeCard attempt from the network's log: when its request left, whether it was lost,
    how many copies reached the card network, the charges made then, and the reply, if any."""
    out = []
    for m in run.sim.messages:
        if m.src == CALLER and m.text.startswith("ChargeCard"):
            n = attempt_of(m.text)
            fault = run.sim.faults.call_fault("ChargeCard", n, WID)
            kind = fault.kind if fault else None
            acted = m.t + SECONDS / 2   # the request's half of the attempt (simcore.sim.perform)
            reply = next((r for r in run.sim.messages
                          if r.src == "world" and r.text.startswith(f"ChargeCard #{n} ")), None)
            copy = next((r for r in run.sim.messages
                         if r.src == "world" and r.text.startswith(f"ChargeCard #{n} copy ")), None)
            out.append(dict(n=n, t=m.t, lost=m.lost, kind=kind, acted=acted, reply=reply, copy=copy,
                            arrives=acted + SECONDS / 2 + (fault.seconds if kind == "delay" else 0),
                            received=0 if m.lost else 2 if kind == "duplicate" else 1,
                            key=key_for(run.controls["key"], n, run.history[0].run_id),
                            charges=[e for e in run.world.log if e.kind == "ChargeCard" and abs(e.t - acted) < 1e-9]))
    return out


def recorded(run):
    """The history's record of ChargeCard: its ActivityTaskStarted and ActivityTaskCompleted."""
    scheduled = next(e.event_id for e in run.history
                     if e.type == "ActivityTaskScheduled" and e.activity_type == "ChargeCard")
    return [e for e in run.history if getattr(e, "scheduled_event_id", None) == scheduled]


def heard(run, a: dict) -> str:
    """What the worker learned from attempt `a`."""
    started, completed = recorded(run)
    done = next((x for x in run.engine.attempts if x[1] == "ChargeCard" and x[3] == a["n"]), None)
    if done is None:
        return f"the worker died before hearing back; timed out after {START_TO_CLOSE} s"
    if done[4] == "no response":
        return f"no response; timed out after {START_TO_CLOSE} s"
    if a["n"] != started.attempt:
        return f"answered after {done[0] - a['t']:g} s, past the {START_TO_CLOSE} s timeout: refused as stale"
    return f"returned {completed.result!r}"


def caller_view(run):
    """What the worker could observe: the messages it sent and the ones that reached it, and every
    frame with the world's side blanked (`effects`, the count of the world's log)."""
    messages = [(m.t, m.src, m.dst, m.text) for m in run.sim.messages
                if m.src == CALLER or (m.dst == CALLER and not m.lost)]
    return messages, [replace(f, effects=0) for f in run.frames]


def view_line(run) -> str:
    """Compare the worker's view with the run where the other message was lost, frame by frame."""
    other = {"request_lost": "response_lost", "response_lost": "request_lost"}[run.controls["fault"]]
    (mine, a), (theirs, b) = caller_view(run), caller_view(simulate(other, run.controls["key"], run.seed))
    same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    if mine == theirs and a == b:
        return f"the worker's view equals the {other} run's: {len(a)} frames and {len(mine)} messages, frame for frame"
    return (f"the worker's view equals the {other} run's for {same} of {len(a)} frames, through the timeout and "
            f"the retry; then: {a[same].caption!r} here, {b[same].caption!r} there")


def side_by_side_lines(key: str = "none", seed: int = 0) -> list[str]:
    """The worker's frames in the request_lost and response_lost runs, until ChargeCard is recorded:
    '=' where the whole frame is the same (the world's side blanked), then what the world did."""
    runs = [simulate(fault, key, seed) for fault in ("request_lost", "response_lost")]
    (_, a), (_, b) = map(caller_view, runs)
    lines = [f"the worker's frames, request_lost vs response_lost (key={key}):"]
    for x, y in zip(a, b):
        lines.append(f"{x.t:6.2f}s = {x.caption}" if x == y else f"{x.t:6.2f}s \u2260 {x.caption} | {y.caption}")
        if "ChargeCard: result recorded" in x.caption:
            break
    for run in runs:
        tries = [a for a in attempts(run) if a["received"]]
        did = [f"charged at {a['acted']:g}s" if a["charges"] else f"answered from its key table at {a['acted']:g}s"
               for a in tries]
        lost = [f"attempt {a['n']}'s {'request' if a['lost'] else 'response'}" for a in attempts(run)
                if a["lost"] or (a["reply"] and a["reply"].lost)]
        lines.append(f"card network, {run.controls['fault']}: {', '.join(did)} (lost: {', '.join(lost)})")
    return lines


def outcome_lines(run) -> list[str]:
    key, tries = run.controls["key"], attempts(run)
    reached = sum(a["received"] for a in tries)
    charged = sum(len(a["charges"]) for a in tries)
    sent = ("no key sent" if key == "none" else f"{key_text(key, 1, run.history[0].run_id)} on every attempt, "
            "the run id and the activity id" if key == "stable"
            else "a new key each attempt: " + ", ".join(a["key"][:8] for a in tries))
    started, completed = recorded(run)
    lines = [statement_line(run)]
    lines += [f"worker, ChargeCard attempt {a['n']}: {heard(run, a)}" for a in tries]
    in_use = sum(1 for a in tries if a["copy"] and "IdempotencyKeyInUse" in a["copy"].text)
    lines += [f"card network: {reached} request{'s' * (reached != 1)} reached it, {charged} charged, "
              f"{reached - charged - in_use} answered from its key table"
              + (f", {in_use} refused with 409 (same key, first request still in flight)" if in_use else "")
              + f" ({sent})",
              f"history: ActivityTaskCompleted ChargeCard -> {completed.result!r} (attempt {started.attempt}; "
              "no event for any other attempt)", effects_line(run)]
    if run.controls["fault"] in ("request_lost", "response_lost"):
        lines.append(view_line(run))
    return lines + [f"outcome: {run.outcome}"]


def table_lines(seed: int = 0) -> list[str]:
    """The statement for every fault and key, each cell a run of the engine."""
    lines = ["statement by fault (rows) and key (columns)", f"{'':26}" + "".join(f"{k:>9}" for k in KEYS)]
    for fault in FAULTS:
        cells = [simulate(fault, key, seed).world.statement_cents() for key in KEYS]
        lines.append(f"{fault:26}" + "".join(f"{'$%.2f' % (c / 100):>9}" for c in cells))
    return lines
