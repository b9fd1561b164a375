"""Scene 07 · Idempotency keys: the last hole in the double-charge: the view.

The model (faults, the three ChargeCard bodies, simulation, outcome lines) is
`simcore.scenarios.s07`; this module draws it. The sequence diagram (scenes/kit/sequence.py) has
the worker's lane, the network's and the card network's: the left side is all the worker can ever
see, the tinted right side is the world's, and that is where a lost request and a lost response
differ. Beside it: the statement, the card network's key table, and the event history.
"""
from __future__ import annotations

from simcore.scenarios import s07 as model

from .kit.code import code_html, running_line, source_of
from .kit.diagram import Diagram
from .kit.panels import DANGER, DURABLE, INK, MONO, MUTED, REPLAY, DollarMeter, HistoryPanel, Panel
from .kit.sequence import SequencePanel
from .kit.view import SceneView, try_it as _try_it

QUESTIONS = {
    "Exactly-once delivery, or exactly-once effect?": (
        "Effect. Over a network that loses messages the sender can't tell a lost request from a lost "
        "response (set fault to request_lost, then response_lost: the worker's side of the diagram is the "
        "same until the retry's answer), so it either sends again (at least once) or gives up (at most "
        "once). What you can build is an exactly-once effect: deliver at least once and have the receiver "
        "drop the repeats, here by the card network's key table.\n\n"
        "Temporal's docs say it exactly: with retries an activity is observed as completed exactly once, but "
        "may be executed several times. The engine gives you the first half (one ActivityTaskCompleted), the "
        "key the second (one charge)."),
    "Where should the key come from?": (
        "From the operation, never from the attempt: the same on every retry, replay and worker, different "
        "for every distinct charge. This course uses what Temporal's docs recommend, the workflow run id + "
        "the activity id, \"consistent across retry attempts but unique among Workflow Executions\": here "
        "the run's id and ChargeCard's activity id `1`.\n\n"
        "The activity id tells two ChargeCard calls in one run apart; the activity type would not. A new key "
        "per attempt (key=random) is the classic mistake: nothing is deduplicated across retries. Stripe "
        "also checks a repeated key's parameters (another amount under the same key is an error, not a "
        "charge) and answers a repeat that arrives while the first still runs with a 409 error."),
    "How long does the card network remember a key?": (
        "Not forever, so the retries must fit inside its memory. Stripe (API v1) can prune keys once they're "
        "at least 24 hours old, and a key reused after that is a new request, charged again. "
        "This scene's card network never forgets; real ones do.\n\n"
        "So bound the retries: a schedule_to_close shorter than the provider's window (Temporal retries "
        "without limit by default). Whatever can come back later than that (an outage that lasts days, a "
        "manual re-run next week, a workflow asleep for a month) should look before it charges: next "
        "question."),
    "What if the downstream has no idempotency keys?": (
        "Build the memory on your side. 1. Record the intent first, in a store you own: 'charge 1001 $42.00, "
        "ref <run id>/1, pending'. 2. Put the ref in a field the provider keeps and lets you search "
        "(metadata, a merchant reference); on every attempt look it up first: found means done. 3. "
        "Reconcile: a job matches your intents against the provider's report, refunds the doubles and "
        "finishes the orphans.\n\n"
        "Look-then-act has a window: two attempts at once (scene 05's frozen worker) can both find nothing; "
        "lock the ref, or let reconciliation catch the rare double. If the effect can't be looked up (an "
        "SMS), choose at least once, or at most once (maximum_attempts=1) and a human."),
}

LANES = ("worker-1", "network", "card network")
S = model.SECONDS


def sequence(run) -> dict:
    """The ChargeCard exchange as the sequence panel draws it (lanes 0, 1, 2 as in LANES)."""
    messages, marks, keys = [], [], run.world.keys()   # the card network's table: key -> first result
    first = next((e for e in run.world.log if e.kind == "ChargeCard"), None)
    for a in model.attempts(run):
        n, kt = a["n"], model.key_text(run.controls["key"], a["n"], run.history[0].run_id)
        messages.append(dict(t0=a["t"], t1=a["t"] + S / 4 if a["lost"] else a["acted"], src=0,
                             dst=1 if a["lost"] else 2, lost=a["lost"], text=f"#{n} \u00b7 {kt}",
                             color=DANGER if a["lost"] else INK))
        if a["kind"] == "duplicate":
            messages.append(dict(t0=a["t"] + S / 4, t1=a["acted"], src=1, dst=2, text=f"copy of #{n}",
                                 color=REPLAY, curve=-0.5))
        r = a["reply"]
        if r:
            messages.append(dict(t0=r.t, t1=r.t + S / 4 if r.lost else a["arrives"], src=2, dst=1 if r.lost else 0,
                                 lost=r.lost, text=r.text.replace("ChargeCard ", "").replace("->", "\u2192"),
                                 color=DANGER if r.lost else DURABLE))
        if a["received"]:
            said = [f"+${e.cents / 100:.2f} charged ({e.ref})" for e in a["charges"]]
            said += [f"key seen: answers {keys.get(a['key'])},\nno new charge"] * (a["received"] - len(a["charges"]))
            again = any(e is not first for e in a["charges"])   # not the order's first charge: a double
            marks.append(dict(t=a["acted"], lane=2, text="\n".join(said), color=DANGER if again else INK))
    until = 1.0
    for f in run.frames:
        note = _worker_note(f)
        if note:
            marks.append(dict(t=f.t, lane=0, side="left", text=note[0], color=note[1], **note[2]))
        if "ChargeCard: result recorded" in f.caption:
            until = f.t
            break
    return {"messages": messages, "marks": marks, "until": max(until + 1.0, 4.0)}


def _worker_note(f):
    """What the worker's lane says at frame `f`, in the engine's own words."""
    c = f.caption
    if f.skull:
        return "dies after the charge,\nbefore it hears back", DANGER, {"symbol": "\u2620"}
    if "no response" in c:
        return "nothing came back", MUTED, {}
    if "retry in" in c:
        return f"5 s, no answer:\nattempt failed,\n{c.rsplit('; ', 1)[-1]}", DANGER, {}   # narrow: left of its lane
    if "stale completion" in c:
        return "late answer: refused (stale)", MUTED, {}
    if "starts with an empty memory" in c:
        return "restarts", INK, {}
    if "ChargeCard: result recorded" in c:
        return "\u2713 recorded in the history", DURABLE, {"symbol": "\u2713"}
    return None


class KeyTable(Panel):
    """The card network's memory: each key it has seen and the first result it gave."""

    def __init__(self, ax, box, rows=3):
        super().__init__(ax, box, "card network's key table")
        self.rows = [self.text(1.5, 4.0 + 2.5 * i, "", family=MONO, fontsize=7.5) for i in range(rows)]

    def update(self, run, frame):
        happened = {e.ref for e in run.world.log[:frame.effects]}
        seen = [f"{short(k)} \u2192 {ref}" for k, ref in run.world.keys().items() if ref in happened]
        texts = seen or ["(empty: no request has carried a key)" if run.controls["key"] == "none" else "(empty)"]
        for row, text in zip(self.rows, texts[-len(self.rows):] + [""] * len(self.rows)):
            row.set_text(text)
            row.set_color(MUTED if not seen else INK)


def short(key: str) -> str:
    """A random key by its first 8 hex digits; a readable key whole."""
    return key if len(key) < 24 else key[:8] + "\u2026"


class S07Diagram(Diagram):
    def build(self, ax):
        yield SequencePanel(ax, (1, 2, 63, 45), LANES, sequence, at=(0.28, 0.52, 0.72),
                            title="sequence: ChargeCard over the network",
                            sides=("the worker sees only this side", "only the card network sees this"))
        yield DollarMeter(ax, (66, 34, 33, 13), rows=3)
        yield KeyTable(ax, (66, 23, 33, 10))
        yield HistoryPanel(ax, (66, 2, 33, 20), rows=6)   # its rows cut to its width


def code_panels(run, frame) -> str:
    key = run.controls["key"]
    flow = code_html("fulfill_order", "the workflow: the engine retries ChargeCard when 5 s pass without an answer",
                     source_of(model.fulfill_order), running_line(run, frame), frame.replaying,
                     crashed=frame.skull)
    busy = any(a["t"] <= frame.t <= a["t"] + S for a in model.attempts(run))
    panels = []
    for name, act in model.CHARGE_CARD.items():
        source = source_of(act)
        lit = next(i for i, line in enumerate(source.splitlines(), 1) if "act.world.charge(" in line)
        note = ("registered on the worker: this run's ChargeCard" if name == key else
                f"not registered in this run (key={name})")
        panels.append((name != key, code_html(f"activity ChargeCard, key={name}", note, source,
                                              lit if name == key and busy else None)))
    return flow + "".join(html for _, html in sorted(panels, key=lambda p: p[0]))


class Scene(SceneView):
    def __init__(self, **controls):
        super().__init__(model, S07Diagram(), code_panels, QUESTIONS, **controls)


def show(**controls):
    """The interactive scene: `show(fault="response_lost", key="stable")`."""
    return Scene(**controls).widget


def try_it(**controls):
    """Run one configuration headless and print what the scene teaches."""
    _try_it(model, **controls)


def table(seed: int = 0):
    """Print the statement for every fault and key: 18 runs of the engine."""
    print("\n".join(model.table_lines(seed)))


def side_by_side(key: str = "none", seed: int = 0):
    """Print the worker's frames for a lost request and for a lost response, and what the card network did."""
    print("\n".join(model.side_by_side_lines(key, seed)))
