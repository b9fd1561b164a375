"""Faults as data, applied by a seeded injector.

A `FaultPlan` says what goes wrong and where (`Crash("ChargeCard")`: the process dies once the
charge's result is in the code's hands; `Crash("ChargeCard", when="after_effect")`: it dies after
the card network charged, before anyone recorded it). The injector is told by the engine and the
world each time a point is reached and raises `ProcessCrashed` where the plan says so. The same plan
and seed give the same run.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

WHEN = ("after_step", "after_effect", "before_effect")


class ProcessCrashed(BaseException):
    """The process dies here. A BaseException on purpose: workflow and activity code that catches
    `Exception` must not be able to swallow its own death."""

    def __init__(self, point: str, after: str | None = None):
        super().__init__(point, after)
        self.point = point
        self.after = after   # the step whose result the process held: it died between that step and the next


@dataclass(frozen=True)
class Crash:
    step: str                   # a step (activity) name, e.g. "ChargeCard"
    when: str = "after_step"    # after_step: the code has the result (and it is recorded, if anything
    #                             records); after_effect: the world acted, nobody recorded it yet;
    #                             before_effect: the attempt started, the world has not acted
    nth: int = 1                # fire at the nth time this point is reached

    def __post_init__(self):
        if self.when not in WHEN:
            raise ValueError(f"Crash.when must be one of {WHEN}, got {self.when!r}")
        if self.nth < 1:
            raise ValueError(f"Crash.nth counts from 1, got {self.nth}")

    def __str__(self):
        return f"crash {self.when.replace('_', ' ')} {self.step}" + (f" (#{self.nth})" if self.nth > 1 else "")


@dataclass(frozen=True)
class KillWorker:
    """At time `at`, the worker process is killed (kill -9): whatever it held in memory is gone."""
    worker: str
    at: float
    restart: bool = True   # the supervisor starts a fresh one after the sim's restart delay


@dataclass(frozen=True)
class PauseWorker:
    """At time `at`, the worker freezes for `seconds` (a GC pause, a stopped VM) and then carries on
    as if nothing happened: a zombie, unaware that its leases ran out meanwhile."""
    worker: str
    at: float
    seconds: float


@dataclass(frozen=True)
class Redeploy:
    """At time `at`, workers stop taking tasks, finish the one in hand, and are replaced by new ones
    `down_for` seconds later: all at once, or one after another (rolling)."""
    at: float
    down_for: float
    rolling: bool = True


CALL_FAULTS = ("request_lost", "response_lost", "duplicate", "delay", "fail", "hang")


@dataclass(frozen=True)
class CallFault:
    """What goes wrong with one attempt of a step: the request or the response lost on the network,
    the request delivered twice, the response delayed by `seconds`, the call failing with
    `error_type`, or the call hanging for `seconds`. `order` None: any workflow."""
    step: str
    kind: str
    attempts: tuple[int, ...] = (1,)
    order: str | None = None
    seconds: float = 0.0
    error_type: str = "ServiceUnavailable"

    def __post_init__(self):
        if self.kind not in CALL_FAULTS:
            raise ValueError(f"CallFault.kind must be one of {CALL_FAULTS}, got {self.kind!r}")


@dataclass(frozen=True)
class FaultPlan:
    crashes: tuple[Crash, ...] = ()
    workers: tuple = ()          # KillWorker, PauseWorker, Redeploy: at a moment in time
    calls: tuple[CallFault, ...] = ()

    @classmethod
    def crash_after(cls, *steps: str, when: str = "after_step") -> FaultPlan:
        """One crash after each named step; a step named twice crashes at its first two passes."""
        seen: Counter = Counter()
        crashes = []
        for s in steps:
            if s and s != "none":
                seen[s] += 1
                crashes.append(Crash(s, when, seen[s]))
        return cls(tuple(crashes))


@dataclass
class Injector:
    plan: FaultPlan
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    reached_count: Counter = field(default_factory=Counter)
    fired: list = field(default_factory=list)   # (time, Crash) in the order they happened
    clock: object = None                        # () -> simulated time, for the record

    def call_fault(self, step: str, attempt: int, workflow_id: str) -> CallFault | None:
        """The fault planned for this attempt of this step, if any."""
        for f in self.plan.calls:
            if f.step == step and attempt in f.attempts and f.order in (None, workflow_id):
                return f
        return None

    def reached(self, when: str, step: str) -> None:
        """Called at every fault point; raises ProcessCrashed where the plan says so."""
        self.reached_count[when, step] += 1
        n = self.reached_count[when, step]
        for crash in self.plan.crashes:
            if crash.when == when and crash.step == step and crash.nth == n:
                self.fired.append((self.clock() if self.clock else 0.0, crash))
                raise ProcessCrashed(str(crash), step if when == "after_step" else None)
