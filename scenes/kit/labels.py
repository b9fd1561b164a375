"""What a learner reads on a control: a human label and a tooltip for every control and every value.

The models (simcore/scenarios) name their values for code (`in_the_gap`, `ctx_now`); the view shows
these words instead, and keeps the model's value underneath: `resolve`, the command line and the
notebooks' `try_it` cells still take the model's names. A value with no entry here shows as itself.
"""
from __future__ import annotations

LABELS = {   # value -> (label, tooltip)
    "none": ("none", "nothing goes wrong"),
    "cron_table": ("cron job + table", "the order writes a row; a daily cron job scans the table and sends what is due"),
    "before_shipping": ("before shipping", "the customer cancels 20 minutes in, while the order is packed"),
    "after_shipping": ("after shipping", "on day 2, after the parcel left"),
    "while_packing": ("while packing", "at 09:05, before the parcel leaves"),
    "plain": ("plain function", "a plain function: its progress lives only in local variables"),
    "cron": ("cron retry", "every minute, re-run the orders not marked done, from line one"),
    "durable": ("durable execution", "the engine records each step's result and replays from it"),
    "checkpoint": ("checkpoint file", "append each step's result to a history file; a restart skips what it holds"),
    "after_record": ("after its record", "the step is done and its result is written down, then the crash"),
    "in_the_gap": ("between effect and record", "the crash lands after the effect and before its record"),
    "after_effect": ("do, then write down", "write a step's record after its effect"),
    "before_effect": ("write down, then do", "write a step's record before its effect"),
    "wall_clock": ("machine's clock", "the workflow reads datetime.now(): a replay later in the day sees another time"),
    "ctx_now": ("ctx.now() (replay-safe)", "the workflow asks the engine for the time: recorded once, the same on replay"),
    "inline": ("inline in the workflow", "the charge and the email are done by the workflow code itself"),
    "activity": ("as activities", "the charge and the email are activities: their results are recorded"),
    "rolling": ("rolling", "redeploy the workers one at a time"),
    "all_at_once": ("all at once", "redeploy every worker at the same moment"),
    "off": ("off", "no worker freezes"),
    "on": ("on", "one worker freezes for 30 s, longer than its lease"),
    "immediate": ("immediately", "retry at once, every 0.1 s"),
    "backoff": ("exponential backoff", "wait 1 s, 2 s, 4 s, ... between attempts"),
    "unlimited": ("unlimited", "retry until it works (Temporal: maximum_attempts=0)"),
    "forever": ("forever", "the inventory service never comes back"),
    "request_lost": ("request lost", "the charge request never reaches the card network"),
    "response_lost": ("response lost", "the card network charges; its answer is lost on the way back"),
    "duplicate": ("request delivered twice", "the network delivers the request twice"),
    "delay": ("response late", "the answer comes after the caller gave up"),
    "worker_dies_after_effect": ("worker dies after the charge", "the worker is killed after the charge, "
                                 "before it records the result"),
    "random": ("random key per attempt", "each attempt carries a fresh uuid4(): every retry looks new"),
    "stable": ("stable key", "every attempt carries the same key, made from the order and the step"),
    "ShipPackage hangs": ("ShipPackage hangs", "one ShipPackage attempt hangs past its start-to-close timeout"),
    "CardDeclined": ("card declined", "the card is declined: a non-retryable error"),
    # scene 10: sagas
    "before_release": ("before the release", "the worker dies as ReleaseInventory starts, before the warehouse acts"),
    "release_unrecorded": ("release done, unrecorded", "the warehouse released the mug; the worker dies before "
                           "anyone records it"),
    "after_release": ("after the release", "the release is recorded, then the worker dies"),
    "before_refund": ("before the refund", "the worker dies as RefundCard starts, before the card network acts"),
    "refund_unrecorded": ("refund done, unrecorded", "the card network refunded; the worker dies before anyone "
                          "records it"),
    "after_refund": ("after the refund", "the refund is recorded, then the worker dies"),
    "works": ("works", "the warehouse releases the mug at once"),
    "down_for_an_hour": ("down for an hour", "the warehouse API is down for an hour; the default policy retries "
                         "forever"),
    "down_an_hour_max_5_attempts": ("down an hour, 5 attempts", "down for an hour, and the release may try 5 times"),
    "down_forever": ("down for good", "the warehouse API never comes back: the release retries forever"),
    "fails_for_good": ("refused for good", "the warehouse refuses: the mug was picked (not retryable)"),
    "stop": ("stop there", "the first compensation that fails stops the rest (Java's Saga default)"),
    "continue": ("carry on", "run the other compensations, then fail naming the one that failed"),
    "ok": ("answered", "ChargeCard succeeds on its first attempt"),
    "after": ("after the step", "register the refund once ChargeCard has succeeded"),
    "before": ("before the step", "register the refund before calling ChargeCard; it refunds what was charged"),
    "before_blind": ("before, blind", "register a refund of $42.00 before calling ChargeCard, whatever happened"),
    # scene 11: versioning
    "naive": ("naive deploy", "v2's code replaces v1's on every worker"),
    "patched": ("patch marker", "if (yield ctx.patched(\"fraud-check\")): the new step; else the old path"),
    "pinned": ("pinned to a build", "each order finishes on the build that started it; v1 workers drain"),
    # scene 13: the canvas, the shards, the scoreboard
    "crash_after_charge": ("crash after the charge", "the card was charged; the process dies before anything records it"),
    "kill_during_wait": ("kill -9 on day 8", "whatever runs the order is killed on day 8 of the 30-day wait"),
    "day 10": ("on day 10", "the customer cancels on day 10 of the wait, at 22:00"),
    "31 days": ("31 days", "the sensor's timeout is set longer than the wait"),
    "7 days": ("7 days (Airflow's default)", "[sensors] default_timeout: the sensor fails after 7 days"),
    "kill and zombie": ("kill one, freeze one", "host-2 dies at 8 s; host-3 freezes at 16 s for 12 s"),
    "kill host-2": ("kill host-2", "host-2 dies at 8 s"),
    "zombie host-3": ("freeze host-3", "host-3 freezes at 16 s for 12 s, past its membership timeout"),
    "default": ("default", "crash 10 %, lost 10 %, duplicate 5 %, worker kill 5 %, host kill 2 %, redeploy 5 %"),
    "gentle": ("gentle", "a fifth as often as the default"),
    "harsh": ("harsh", "three times as often as the default"),
}
PER_CONTROL = {   # (control, value) -> (label, tooltip), where a value means something else per control
    ("crash_after", "none"): ("no crash", "the process runs to the end"),
    ("key", "none"): ("no key", "the requests carry no idempotency key"),
    ("deploy", "none"): ("no deploy", "the workers keep running the code they have"),
    ("kill", "none"): ("nobody", "no worker is killed"),
    ("fault", "none"): ("nothing", "nothing else goes wrong"),
    ("cancel", "none"): ("no cancel", "the customer keeps the order"),
    ("hosts", "none"): ("no fault", "every host keeps running"),
    ("refunds", "ok"): ("fine", "compute_refunds succeeds on its first try"),
    ("update", "after_shipping"): ("after shipping", "on day 1, after the parcel left"),
    ("fence", True): ("range-id fence on", "every write checks the range id its writer holds"),
    ("fence", False): ("fence off", "writes do not check the range id (to show what the fence prevents)"),
    ("incident", 0): ("never", "the inventory service stays up"),
    ("incident", 10): ("10 s", "down from t=0 to t=10 s"),
    ("incident", 30): ("30 s", "down from t=0 to t=30 s"),
    ("incident", 60): ("60 s", "down from t=0 to t=60 s"),
    ("timetable", "trigger"): ("trigger", "CronTriggerTimetable, Airflow 3's default for a cron "
                               "string: the run for D runs at D; its data interval has zero width"),
    ("timetable", "data_interval"): ("data interval", "CronDataIntervalTimetable, Airflow 2's default: "
                                     "the run for [D, D+1) runs after D+1"),
    ("catchup", True): ("all missed", "catchup=True: after an outage, a run for each missed interval, in order"),
    ("catchup", False): ("latest only", "catchup=False (Airflow 3's default): after an outage, only the latest "
                         "missed run"),
}
CONTROL_LABELS = {"crash_after": "crash after", "crash_when": "crash when", "record": "record",
                  "side_effects": "side effects", "max_attempts": "max attempts", "code": "the code's clock",
                  "key": "idempotency key", "kill": "kill -9", "zombie": "zombie", "day_30": "on day 30",
                  "on_failure": "a compensation fails", "register": "register the refund",
                  "sensor_timeout": "sensor timeout", "incident": "inventory down", "hosts": "hosts",
                  "replay": "replay a row", "rates": "fault rates"}


def _entry(name: str, value):
    return PER_CONTROL.get((name, value)) or PER_CONTROL.get((name, str(value))) or LABELS.get(str(value))


def label(name: str, value) -> str:
    """The label control `name` shows for the model's `value`."""
    got = _entry(name, value)
    return got[0] if got else str(value)


def tooltip(name: str, value, about: str = "") -> str:
    """The tooltip of one value of control `name`; `about`: what the control does, said for a value that
    has no words of its own."""
    got = _entry(name, value)
    if got and got[1]:
        return got[1]
    if name == "crash_after":
        return f"the process dies right after {value}"
    if name == "kill":
        return f"kill -9 {value} early on"
    return about or f"{name.replace('_', ' ')} = {value}"


def control_label(name: str) -> str:
    return CONTROL_LABELS.get(name, name.replace("_", " "))
