"""Scene 13's workload cards: which model fits which work, decided from data.

Each requirement says what it asks and cites the scene that taught it; each model says how it meets
each requirement (fits, awkward, does not fit) and why; a card lists its requirements. A card's verdict
for a model is the worst of that model's answers to the card's requirements, so no verdict is prose
written per card. The model facts are checked against each engine's docs (see the facts file).
"""
from __future__ import annotations

REQUIREMENTS = {
    "long waits": ("waits days or months, and the wait survives crashes", "08"),
    "external messages": ("a message from outside changes the run while it waits (a cancel)", "09"),
    "human approval": ("waits for a person's decision", "09"),
    "per-interval backfill": ("one run per data interval; past intervals run again on demand", "12"),
    "fan-out": ("many pieces of work in parallel, gathered", "12"),
    "unbounded life": ("goes on period after period, for years", "08"),
    "compensation": ("a failure undoes the steps already done", "10"),
}

FITS, AWKWARD, NO = "fits", "awkward", "does not fit"
RANK = {FITS: 0, AWKWARD: 1, NO: 2}

MODELS = {
    "workflow": {
        "long waits": (FITS, "a durable timer: an event on record, fired by the server with no worker alive"),
        "external messages": (FITS, "a signal, recorded at once and handed to the code waiting beside the timer"),
        "human approval": (FITS, "a signal or an update the code waits for"),
        "per-interval backfill": (AWKWARD, "Temporal Schedules backfill a past range, but a run gets its scheduled "
                                           "time, no data interval"),
        "fan-out": (FITS, "a loop that starts activities or child workflows and gathers them"),
        "unbounded life": (FITS, "continue-as-new: a fresh history each period, the same workflow id"),
        "compensation": (FITS, "a saga: plain code that runs the undo steps in reverse"),
    },
    "dag": {
        "long waits": (AWKWARD, "a sensor that wakes to poke, again and again; its timeout "
                                "defaults to 7 days"),
        "external messages": (AWKWARD, "no general message into a running DAG run: a task polls a table for "
                                       "it (a Human-in-the-loop task takes a person's answer, Airflow 3.1+; the "
                                       "REST API can set a task's state)"),
        "human approval": (FITS, "an ApprovalOperator task waits (deferred; awaiting_input from 3.3) until a "
                                 "person answers in the UI or the REST API (Airflow 3.1+)"),
        "per-interval backfill": (FITS, "each run has its data interval; catchup and backfill make the missed ones"),
        "fan-out": (FITS, "dynamic task mapping: .expand() makes one task instance per item"),
        "unbounded life": (AWKWARD, "a schedule makes a new run each period; carrying one customer's state to "
                                    "the next run is up to you (XCom from prior dates, a Variable, a table)"),
        "compensation": (AWKWARD, "an on-failure task with trigger_rule one_failed, run again from its start"),
    },
    "state_machine": {
        "long waits": (FITS, "a Wait state: its end is a timestamp on record"),
        "external messages": (AWKWARD, "only a task waiting for a callback token (.waitForTaskToken) takes one; "
                                       "from outside, StopExecution"),
        "human approval": (FITS, "a task that waits for a callback token, AWS's human-approval pattern"),
        "per-interval backfill": (NO, "a schedule starts executions; there is no data interval and no backfill"),
        "fan-out": (FITS, "a Map state (not modelled in the course's interpreter)"),
        "unbounded life": (NO, "a Standard execution lives at most one year and 25,000 events; it must start a "
                               "new execution"),
        "compensation": (FITS, "Catch on each task, chaining undo states"),
    },
}
MODEL_NAMES = {"workflow": "workflow code", "dag": "a DAG", "state_machine": "a state machine"}

CARDS = {
    "order fulfilment": ("charge, reserve, ship; a review request 30 days later unless the customer cancels",
                         ("long waits", "external messages", "compensation")),
    "nightly warehouse refresh": ("load yesterday's orders into the warehouse, one partition a day, with backfill "
                                  "after an outage", ("per-interval backfill", "fan-out")),
    "short approval flow": ("an expense waits for a manager's yes or no, then pays or tells", ("human approval",)),
    "monthly subscription": ("bill a customer each month until they cancel", ("unbounded life", "long waits",
                                                                             "external messages")),
}


def verdict(card: str, model: str) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The model's verdict on the card, and its answer to each requirement: (requirement, answer, why,
    scene)."""
    answers = [(r, *MODELS[model][r], REQUIREMENTS[r][1]) for r in CARDS[card][1]]
    return max((a[1] for a in answers), key=RANK.get), answers


def recommend(card: str) -> list[str]:
    """The models whose verdict is best; of equals, those with the fewest answers short of "fits"."""
    def score(m):
        v, answers = verdict(card, m)
        return RANK[v], sum(a[1] != FITS for a in answers)
    best = min(map(score, MODELS))
    return [m for m in MODELS if score(m) == best]


def lines() -> list[str]:
    out = []
    for card in CARDS:
        best = recommend(card)
        parts = []
        for m in MODELS:
            v, answers = verdict(card, m)
            why = "; ".join(f"{r}: {w} (scene {s})" for r, a, w, s in answers if a != FITS)
            parts.append(f"{MODEL_NAMES[m]} {v}" + (f" ({why})" if why else ""))
        out.append(f"Card '{card}': use {' or '.join(MODEL_NAMES[m] for m in best)}. " + " · ".join(parts) + ".")
    return out
