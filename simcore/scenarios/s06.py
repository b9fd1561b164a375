"""Scene 06 · Retries and exponential backoff.

The inventory service goes down at t=0 for `incident` seconds and serves at most 20 requests a second
afterwards; a refused request still costs it (simcore.world.Downstream). 100 orders reach it 0.1 s
apart. With *immediate* retries (every 0.1 s, forever) their retries alone keep it over capacity long
after the incident: a retry storm. With exponential *backoff* each caller waits 1, 2, 4, 8, 16, 20 s...
and the load falls under capacity, so the service recovers. The engine does the retrying, following
the `RetryPolicy` each `ctx.activity` call carries; nothing here retries anything.

Temporal workers run many activities at once; ours run one task each, so 50 workers stand for 50
activity slots. ORDER #1001 (the first order) can also meet a declined card (not retryable) or a
ShipPackage attempt that hangs (abandoned at start_to_close and retried; its late result refused).
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from dataclasses import asdict
from dataclasses import fields as dataclass_fields

from .. import events as ev
from ..engine import Engine
from ..faults import CallFault, FaultPlan
from ..orders import charge_card, reserve_inventory, send_confirmation_email, ship_package
from ..retry import ActivityOptions, PolicyError, RetryPolicy
from ..sim import Run, Sim
from ..trace import Recorder
from ..workflow import ActivityError, activity, workflow
from ..world import Downstream
from . import Control
from .lines import statement_line

NUMBER = 6
TITLE = "Retries and exponential backoff"
CENTS, CAPACITY, WORKERS, EVERY, HORIZON, START_TO_CLOSE, HANG = 4200, 20, 50, 0.1, 120.0, 10, 60
WATCH = "order-1001"
STEPS = ("ChargeCard", "ReserveInventory", "ShipPackage", "SendConfirmationEmail", "RefundCard")
FAULTS = {"none": (),
          "ShipPackage hangs": (CallFault("ShipPackage", "hang", attempts=(1,), order=WATCH, seconds=HANG),),
          "CardDeclined": (CallFault("ChargeCard", "fail", attempts=(1,), order=WATCH, error_type="CardDeclined"),)}
CONTROLS = (
    Control("orders", (1, 100), 100, "ORDER #1001 alone, or 100 orders (#1001-#1100) arriving 0.1 s apart"),
    Control("retry", ("immediate", "backoff"), "immediate", "retry at once (every 0.1 s), or back off exponentially"),
    Control("max_attempts", ("unlimited", 5, 10), "unlimited",
            "attempts before the engine gives up (Temporal: 0 = unlimited)"),
    Control("incident", (0, 10, 30, 60, "forever"), 30, "seconds the inventory service is down, from t=0"),
    Control("fault", tuple(FAULTS), "none", "what else goes wrong for ORDER #1001"),
)


def retry_policy(retry: str, max_attempts) -> RetryPolicy:
    """The two policies compared. "immediate" is what a hand-written retry loop usually does."""
    attempts = 0 if max_attempts == "unlimited" else max_attempts   # 0: unlimited, as in Temporal
    if retry == "immediate":
        return RetryPolicy(initial_interval=0.1, backoff_coefficient=1, maximum_attempts=attempts,
                           non_retryable_error_types=("CardDeclined",))
    return RetryPolicy(initial_interval=1, backoff_coefficient=2, maximum_interval=20,
                       maximum_attempts=attempts, non_retryable_error_types=("CardDeclined",))


@activity("RefundCard", seconds=1)
def refund_card(act, order_id, cents):
    return act.world.refund(order_id, cents)


ACTIVITIES = (charge_card, reserve_inventory, ship_package, send_confirmation_email, refund_card)


@workflow
def fulfill_order(ctx, order_id, cents, retry):
    policy = RetryPolicy(**retry)             # the engine retries each step on this schedule
    try:
        yield ctx.activity(charge_card, order_id, cents, retry=policy, start_to_close=10)
    except ActivityError as err:              # CardDeclined is not retryable: 1 attempt
        return f"order {order_id} declined: {err.error_type}"
    try:
        yield ctx.activity(reserve_inventory, order_id, retry=policy, start_to_close=10)
    except ActivityError as err:              # the attempts are spent: undo the charge
        yield ctx.activity(refund_card, order_id, cents, retry=policy, start_to_close=10)
        return f"order {order_id} cancelled and refunded: {err.error_type}"
    yield ctx.activity(ship_package, order_id, retry=policy, start_to_close=10)
    yield ctx.activity(send_confirmation_email, order_id, retry=policy, start_to_close=10)
    return f"order {order_id} fulfilled"


class Sampled(Recorder):
    """With `detail` every frame is kept (one order); without it, only the sampler's (100 orders make
    thousands of attempts: one frame a second instead)."""

    def frame(self, caption: str, sample: bool = False, **changes):
        return super().frame(caption, **changes) if sample or self.detail else self.state


def simulate(orders=100, retry="immediate", max_attempts="unlimited", incident=30, fault="none", seed=0) -> Run:
    controls = dict(orders=orders, retry=retry, max_attempts=max_attempts, incident=incident, fault=fault)
    sim = Sim(seed=seed, faults=FaultPlan(calls=FAULTS[fault]))
    sim.trace = Sampled(sim.trace.now, sim.trace.effects, sim.trace.history, detail=orders == 1)
    sim.world.stock["mug"] = orders
    down = sim.world.downstream["ReserveInventory"] = Downstream(
        lambda: sim.env.now, capacity=CAPACITY, window=1.0, sick_until=math.inf if incident == "forever" else incident)
    engine = Engine(sim, [fulfill_order], ACTIVITIES, workers=WORKERS)
    policy = asdict(retry_policy(retry, max_attempts))   # workflow input is JSON: a dict, not the object
    policy["non_retryable_error_types"] = list(policy["non_retryable_error_types"])
    ids = [(f"order-{1001 + i}", (str(1001 + i), CENTS, policy)) for i in range(orders)]
    sim.watch = WATCH
    down_for = {0: "stays up", "forever": "is down for good"}.get(incident, f"is down until {incident}s")
    sim.trace.frame(f"{orders} order{'s arrive' if orders > 1 else ' arrives'}; the inventory service {down_for}",
                    sample=True)
    sim.env.process(engine.start_every(fulfill_order, ids, EVERY))
    if orders > 1:
        sim.env.process(_sampler(sim, engine, down, orders))
    sim.run(until=HORIZON)
    history = sim.history.read(WATCH)
    run = Run("06", controls, seed, sim, fulfill_order, WATCH, "completed" if WATCH in engine.closed else "running",
              history, extra=_stats(engine, down, orders))
    run.engine, run.downstream = engine, down
    run.tries = _attempts(run)   # the outcome lines and the view's panels each read them
    return run


def _sampler(sim, engine, down, orders):
    """A frame a second until every order is closed and no attempt is still running (a hung one)."""
    while len(engine.closed) < orders or any(w.status == "busy" for w in engine.workers.values()):
        yield sim.env.timeout(1.0)
        t, a = sim.env.now, down.arrivals
        recent = bisect_left(a, t) - bisect_left(a, t - down.window)   # the second [t-1, t): the plot's last bar
        state = "down (the incident)" if t < down.sick_until else "overloaded" if recent > down.capacity else "healthy"
        sim.trace.frame(f"inventory service {state}: {recent} requests in the last second (capacity "
                        f"{down.capacity}); {len(engine.closed)}/{orders} orders closed", sample=True,
                        kind="outage" if t < down.sick_until else "")


def _stats(engine, down, orders) -> dict:
    outcome = Counter()
    for wid in engine.closed:
        result = engine.sim.history.read(wid)[-1].result
        outcome[next((k for k in ("declined", "refunded", "fulfilled") if k in result), "other")] += 1
    end = min(down.sick_until, HORIZON)
    after = [a for a in down.arrivals if a >= end]
    return dict(attempts_sent=len(down.arrivals), refused=len(down.failures), recovered_at=down.recovered_at,
                load_after=len(after) / (HORIZON - end) if HORIZON > end else 0.0,
                last_call=max(down.arrivals, default=None), running=orders - len(engine.closed),
                rejected=engine.rejected, **outcome)


# -- what happened to each attempt (the timeline, the observed waits) ------------------------------
def attempts(run, wid: str | None = None) -> list[dict]:
    """Every attempt from the engine's log (of one workflow, or all): when it started and ended, and
    whether the engine had abandoned it at start_to_close before it ended (its late result then
    refused). Worked out once, when the run is made (`run.tries`)."""
    return [a for a in run.tries if wid in (None, a["wid"])]


def _attempts(run) -> list[dict]:
    seconds = {a.name: a.seconds for a in ACTIVITIES}
    out = []
    for end, step, w, n, outcome in run.engine.attempts:
        hang = run.sim.faults.call_fault(step, n, w)
        start = end - seconds[step] - (hang.seconds if hang and hang.kind == "hang" else 0)
        late = end - start > START_TO_CLOSE
        out.append(dict(step=step, wid=w, n=n, start=start, end=end, outcome=outcome,
                        failed_at=start + START_TO_CLOSE if late else end, late=late))
    return sorted(out, key=lambda a: (a["start"], a["n"]))


def waits(run, step: str = "ReserveInventory", wid: str = WATCH) -> list[float]:
    """Seconds between an attempt failing (or being abandoned) and the next one starting."""
    mine = sorted((a for a in attempts(run, wid) if a["step"] == step), key=lambda a: a["n"])
    return [round(b["start"] - a["failed_at"], 3) for a, b in zip(mine, mine[1:])]


TIMEOUTS = ("start_to_close", "schedule_to_close", "schedule_to_start", "heartbeat")


def policy_lines(**fields) -> list[str]:
    """A policy's schedule, or why it is refused. Fields are RetryPolicy's and the four timeouts."""
    timeouts = {k: fields.pop(k) for k in TIMEOUTS if k in fields}
    try:
        p = ActivityOptions(retry=RetryPolicy(**fields), **timeouts).retry
    except PolicyError as e:
        return [f"refused: {e}"]
    except TypeError:   # a field that does not exist
        known = [f.name for f in dataclass_fields(RetryPolicy)] + list(TIMEOUTS)
        return [f"refused: unknown field {sorted(set(fields) - set(known))[0]!r}; a policy has: {', '.join(known)}"]
    n = p.maximum_attempts
    shown = p.schedule(min(n, 10) if n else 10)
    return [f"waits between attempts: {_secs(shown, 9)}" + (", ..." if not n or n > 10 else ""),
            f"gives up after: {n} attempts, {sum(p.schedule(n)):g}s of waiting" if n else
            "gives up after: never (maximum_attempts=0: unlimited)"]


def outcome_lines(run) -> list[str]:
    x, c = run.extra, run.controls
    down = {0: "never down", "forever": "down for good"}.get(c["incident"], f"down 0-{c['incident']}s")
    policy = retry_policy(c["retry"], c["max_attempts"])
    lines = [f"{c['orders']} order{'s' * (c['orders'] > 1)}, retry={c['retry']}, max attempts {c['max_attempts']}; "
             f"inventory {down}, capacity {CAPACITY} requests/s",
             f"attempts sent to ReserveInventory: {x['attempts_sent']} ({x['refused']} refused)", _recovery(run),
             f"orders: {x.get('fulfilled', 0)} fulfilled, {x.get('refunded', 0)} cancelled and refunded, "
             f"{x.get('declined', 0)} declined, {x['running']} still retrying at {HORIZON:g}s", statement_line(run)]
    mine = attempts(run, WATCH)
    for step in STEPS:
        tries = [a for a in mine if a["step"] == step]
        errors = Counter(a["outcome"] for a in tries if a["outcome"] != "ok" and not a["late"])
        why = ("not retryable: failed at once" if set(errors) & set(policy.non_retryable_error_types) else
               "maximum_attempts reached" if len(tries) == policy.maximum_attempts and errors else "")
        lines += [f"order 1001 {step}: {len(tries)} attempt{'s' * (len(tries) > 1)}"
                  + "".join(f", {k} x{v}" for k, v in errors.items()) + (f" ({why})" if why else "")] if tries else []
        lines += [f"order 1001 {step} attempt {a['n']}: hung; abandoned at start_to_close ({START_TO_CLOSE}s) at "
                  f"{a['failed_at']:g}s and retried; its late result at {a['end']:g}s refused"
                  for a in tries if a["late"]]
    seen = waits(run)
    if seen:
        promised = policy.schedule(len(seen) + 1)
        lines.append(f"order 1001 waited between ReserveInventory attempts: {_secs(seen)}")
        lines.append(f"the policy's schedule (RetryPolicy.schedule): {_secs(promised)}")
        if seen != promised:
            lines.append(f"the difference is time in the task queue: all {WORKERS} workers were busy")
    if any(a["late"] for a in mine):
        shipped = sum(e.kind == "ShipPackage" and e.order == "1001" for e in run.world.log)
        lines.append(f"carrier: {shipped} packages shipped for order 1001 (the hung attempt was slow, not dead)")
    lines += [f"order 1001 history: ActivityTaskFailed {e.error_type} (event {e.event_id}), caught by the workflow"
              for e in run.history if isinstance(e, ev.ActivityTaskFailed)]
    done = run.history[-1].result if run.outcome == "completed" else f"still retrying at {HORIZON:g}s"
    return lines + [f"order 1001: {done}"]


def _recovery(run) -> str:
    x, down = run.extra, run.downstream
    if not down.failures:
        return "inventory service: never refused a request"
    if x["recovered_at"] is not None:
        return (f"inventory service: recovered at {x['recovered_at']:.2f}s, "
                f"{x['recovered_at'] - down.sick_until:.2f}s after the incident ended")
    if down.sick_until >= HORIZON:   # (the frames end once no order is left to retry; the simulation runs on)
        gave_up = f"; every caller had given up by {x['last_call']:.2f}s" if not x["running"] else ""
        return f"inventory service: down for good (all {HORIZON:g}s simulated){gave_up}"
    if x["load_after"] > down.capacity:
        return (f"inventory service: never recovered: {x['load_after']:.0f} requests/s after the incident "
                f"(capacity {down.capacity}), still saturated at {HORIZON:g}s")
    return f"inventory service: never recovered: every caller had given up by {x['last_call']:.2f}s"


def _secs(values, most=8) -> str:
    text = ", ".join(f"{v:g}s" for v in values[:most])
    return text + (f", ... ({len(values)} waits)" if len(values) > most else "")
