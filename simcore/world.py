"""The world outside the engine: the card network, the warehouse, the carrier and the mail.

Everything here is a real effect: it happens once per call, whatever the engine believes. Each
effect is appended to `world.log`, the ground truth the $ meter and the outcome counts read. Every
service honours idempotency keys as Stripe does: a key it has seen returns the first result and acts
nothing again; the same key with other parameters is refused (Stripe's idempotency_error: the key
was meant for another request); the same key while its first request is still being processed is
refused too (Stripe's 409 idempotency_key_in_use: retry later, and get the first result).

`effect()` is the one door: the card network, the warehouse, the carrier and the mail are thin
names over it, and a learner's own services (hotels, flights, cars) use it the same way.
"""
from __future__ import annotations

import bisect
import random
import uuid
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

CARD = ("ChargeCard", "RefundCard")


@dataclass(frozen=True)
class Effect:
    t: float
    kind: str           # the step that did it: ChargeCard, ReserveInventory, ...
    order: str
    cents: int = 0      # money moved: + charge, - refund
    ref: str = ""       # charge id, hold id, tracking number, message id

    def __str__(self):
        money = f" {'+' if self.cents >= 0 else '-'}${abs(self.cents) / 100:.2f}" if self.kind in CARD else ""
        return f"{self.t:6.1f}s {self.kind}{money} order {self.order} {self.ref}".rstrip()


class IdempotencyKeyMismatch(Exception):
    """A key seen before, with other parameters: the caller reused a key meant for another request.
    Another attempt would be refused the same way, so the engine does not retry it."""
    non_retryable = True


class IdempotencyKeyInUse(Exception):
    """A key whose first request is still being processed: try again later."""


class World:
    def __init__(self, clock: Callable[[], float] = lambda: 0.0, on_effect=None, stock: int = 10,
                 wall: Callable[[], datetime] = datetime.now, rng: random.Random | None = None,
                 processing: float = 0.0):
        self.clock = clock   # simulated seconds, stamped on effects
        self.processing = processing   # seconds a service takes to finish a request, key and all
        self.wall = wall     # the same instant as a date
        self.rng = rng or random.Random(0)
        self.on_effect = on_effect or (lambda kind: None)   # the fault injector listens here
        self.log: list[Effect] = []
        self.stock = {"mug": stock}
        self.holds: Counter = Counter()   # units held for orders, by sku
        self._keys: dict[str, str] = {}   # idempotency key -> first result
        self._asked: dict[str, tuple] = {}   # idempotency key -> (parameters, done at) of its first request
        self.downstream: dict[str, Downstream] = {}   # services that can be overloaded, by step name

    # -- the card network ---------------------------------------------------------------------
    def charge(self, order: str, cents: int, key: str | None = None) -> str:
        return self.effect("ChargeCard", order, key, cents=cents)

    def refund(self, order: str, cents: int | None = None, key: str | None = None) -> str:
        """Refund `cents`; or, with `cents=None`, what the network holds for the order (`charged`): a
        refund looked up, not assumed, so one for a charge that never happened moves nothing. A repeat
        under its key refunds what the first request did (and acts nothing again)."""
        if cents is None:   # what this key refunded before; else what the order holds now
            first = self._asked[key][0] if key in self._asked else None   # (kind, order, cents, note)
            if first and first[0] == "RefundCard":
                cents = -first[2]
            else:
                cents = self.charged(order)
                if cents <= 0 and first is None:
                    return "nothing to refund"
        return self.effect("RefundCard", order, key, cents=-cents)

    def charged(self, order: str) -> int:
        """What the card network holds for `order`, in cents: its charges less its refunds."""
        return sum(e.cents for e in self.log if e.kind in CARD and e.order == order)

    # -- the warehouse, the carrier, the mail ---------------------------------------------------
    def reserve(self, order: str, sku: str = "mug", key: str | None = None) -> str:
        return self.effect("ReserveInventory", order, key, stock=(sku, -1))

    def release(self, order: str, sku: str = "mug", key: str | None = None) -> str:
        return self.effect("ReleaseInventory", order, key, stock=(sku, +1))

    def ship(self, order: str, service: str = "standard", key: str | None = None) -> str:
        return self.effect("ShipPackage", order, key, note=service)

    def email(self, order: str, kind: str = "Confirmation", key: str | None = None) -> str:
        return self.effect(f"Send{kind}Email", order, key)

    # -- what happened -------------------------------------------------------------------------
    def effects(self, upto: int | None = None) -> Counter:
        return Counter(e.kind for e in self.log[:upto])

    def statement(self, upto: int | None = None) -> list[Effect]:
        """The customer's card statement: every charge and refund, in order."""
        return [e for e in self.log[:upto] if e.kind in CARD]

    def keys(self, prefix: str = "") -> dict[str, str]:
        """The idempotency keys seen so far (those starting with `prefix`), each with its first result."""
        return {k: ref for k, ref in self._keys.items() if k.startswith(prefix)}

    def statement_cents(self, upto: int | None = None) -> int:
        return sum(e.cents for e in self.statement(upto))

    # -- mechanics -----------------------------------------------------------------------------
    def effect(self, kind: str, order: str, key: str | None = None, cents: int = 0, stock=None,
               note: str = "") -> str:
        """Do one thing in the world, and say what was done (a reference: a charge id, a booking).

        `kind` names it (ChargeCard, BookFlight, ...) and counts it in `effects()`; `order` is what it is
        for (an order, a trip); `cents` moves money on the card statement (+ charge, - refund); `stock`
        is (sku, change) for the warehouse; `note` is shown beside the reference (a flight's legs).
        With a `key`, a repeat of the same request acts nothing again and returns the first result."""
        if kind in self.downstream:
            self.downstream[kind].call()    # may refuse: overloaded, or down
        if key is not None and key in self._asked:
            return self._repeat(key, (kind, order, cents, note))   # the first result, no second effect
        ref = f"{kind[:4].lower()}_{len(self.log) + 1}" + (f" {note}" if note else "")
        self._book(Effect(self.clock(), kind, order, cents, ref), stock, key, note, self.clock() + self.processing)
        self.on_effect(kind)   # it has happened; a crash from here on cannot undo it
        return ref

    def _book(self, e: Effect, stock, key: str | None, note: str, done_at: float) -> None:
        """Keep an effect that has happened: in the log, in the stock and holds it moved, and as its
        key's first result (with what was asked, for a repeat to be compared with)."""
        self.log.append(e)
        if stock:
            sku, delta = stock
            self.stock[sku] = self.stock.get(sku, 0) + delta
            self.holds[sku] -= delta
        if key is not None:
            self._keys[key] = e.ref
            self._asked[key] = ((e.kind, e.order, e.cents, note), done_at)

    def _repeat(self, key: str, asked: tuple) -> str:
        first, done_at = self._asked[key]
        if asked != first:
            raise IdempotencyKeyMismatch(f"key {key!r} was first used for {_request(first)}, now for "
                                         f"{_request(asked)}: one key, one request")
        if self.clock() < done_at:
            raise IdempotencyKeyInUse(f"key {key!r}: its first request is still being processed; retry later")
        return self._keys[key]


def _request(asked: tuple) -> str:
    kind, order, cents, note = asked
    return f"{kind} {order}" + (f" {cents / 100:.2f}" if cents else "") + (f" {note}" if note else "")


class ServiceUnavailable(Exception):
    """The downstream refused the request: overloaded, or down."""


class Downstream:
    """A service with a capacity, as seen from its callers: it serves up to `capacity` requests in
    any `window` seconds. Past that it is overloaded and fails every request, and a failed request
    still costs it: so callers that retry at once keep it down (a retry storm), while callers that
    back off let the load fall under capacity and the service recover. Before `sick_until` it is down
    whatever the load (the incident that starts it all)."""

    def __init__(self, clock: Callable[[], float], capacity: int = 10, window: float = 1.0,
                 sick_until: float = 0.0):
        if capacity < 1 or window <= 0:
            raise ValueError(f"a downstream needs capacity >= 1 and window > 0, got {capacity}, {window}")
        self.clock, self.capacity, self.window, self.sick_until = clock, capacity, window, sick_until
        self.arrivals: list[float] = []     # every request, in time order
        self.failures: list[float] = []
        self.recovered_at: float | None = None   # the first success after the incident

    def call(self) -> None:
        t = self.clock()
        self.arrivals.append(t)   # in time order, so the window is a binary search away
        recent = len(self.arrivals) - bisect.bisect_right(self.arrivals, t - self.window)
        if t < self.sick_until or recent > self.capacity:
            self.failures.append(t)
            raise ServiceUnavailable(f"{recent} requests in the last {self.window:g}s (capacity {self.capacity})"
                                     if t >= self.sick_until else "down")
        if self.recovered_at is None and self.failures:
            self.recovered_at = t

    def load(self, until: float, step: float = 1.0) -> list[int]:
        """Requests per `step` seconds from 0 to `until`: the plot of the storm."""
        bins = [0] * (int(until / step) + 1)
        for a in self.arrivals:
            if a <= until:
                bins[int(a / step)] += 1
        return bins


# -- reaching the world from code that should not -------------------------------------------------
# Workflow code must not call these: they are here so the course can show what goes wrong when it
# does (a branch on the wall clock, an inline charge, a fresh uuid on every replay).
_current: ContextVar[World] = ContextVar("world")


@contextmanager
def entered(world: World):
    """Make `world` the one `current_world()`, `wall_clock()` and `uuid4()` reach while running."""
    token = _current.set(world)
    try:
        yield world
    finally:
        _current.reset(token)


def current_world() -> World:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no simulated world is running here") from None


def wall_clock() -> datetime:
    """The machine's clock, read directly: different on every run and every replay."""
    return current_world().wall()


def uuid4() -> str:
    """A fresh random id, as `uuid.uuid4()` gives (drawn from the world's seeded entropy, so a run
    can be repeated exactly, but a replay draws a new one)."""
    return str(uuid.UUID(int=current_world().rng.getrandbits(128), version=4))
