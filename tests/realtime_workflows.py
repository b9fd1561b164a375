"""A workflow of the tests' own for the real-process mode (`order run --workflow
tests.realtime_workflows:flaky_order`): a step that fails twice before it works, so a real process
waits out a backoff in real seconds, and a kill can land in that wait."""
from simcore.retry import RetryPolicy
from simcore.workflow import activity, workflow


@activity("CallWarehouse", seconds=0, retry=RetryPolicy(initial_interval=1.0, backoff_coefficient=2.0))
def call_warehouse(act, order_id):
    if act.attempt < 3:   # busy for the first two attempts of each process's run of it
        raise ConnectionError(f"warehouse busy (attempt {act.attempt})")
    return act.world.effect("CallWarehouse", order_id, key=act.idempotency_key)


@workflow
def flaky_order(ctx, order_id):
    booked = yield ctx.activity(call_warehouse, order_id)
    return f"order {order_id} booked: {booked}"


@activity("Renew", seconds=0)
def renew(act, order_id, left):
    return act.world.effect("Renew", order_id, key=act.idempotency_key, note=f"{left} left")


@workflow
def renewing(ctx, order_id, left):
    """Renews (an effect, keyed), sleeps a moment, then continues as new until `left` reaches 0: a chain
    of runs under one workflow id, each with its own effect."""
    yield ctx.activity(renew, order_id, left)
    yield ctx.sleep(0.3)
    if left > 0:
        yield ctx.continue_as_new(order_id, left - 1)
    return "renewed to the end"


@workflow
def yields_wrong(ctx):
    yield 42   # not a command: the learner's bug, named with this line


@activity("Greet", seconds=0)
def greet(act, name):
    return act.world.effect("Greet", name, key=act.idempotency_key)


@workflow
def hello(ctx, name):
    """Not an order: its effect names `name`, and its workflow id is whatever `--id` says."""
    return (yield ctx.activity(greet, name))


@workflow
def queried(ctx):
    """Two query handlers a learner might write wrong: one that raises, one whose answer is no JSON."""
    ctx.set_query_handler("boom", lambda: 1 / 0)
    ctx.set_query_handler("aset", lambda: {1, 2})
    yield ctx.sleep(0.1)
    return "done"


@workflow(name="queried")
def queried_changed(ctx):
    """`queried` changed under its history: it starts with a different command."""
    ctx.set_query_handler("boom", lambda: 1 / 0)
    yield ctx.activity(renew, "q", 0)   # where the history has a timer
    return "done"


@activity("ReadLease", seconds=0)
def read_lease(act, home_dir):
    """What this attempt may take, and how long the workflow's lease has left as it starts."""
    import sqlite3
    import time
    from pathlib import Path
    db = sqlite3.connect(Path(home_dir) / "history.sqlite")
    (expires,) = db.execute("SELECT expires FROM owners WHERE workflow_id = ?", (act.workflow_id,)).fetchone()
    db.close()
    return [act.start_to_close, round(expires - time.time(), 1)]


@workflow
def leased(ctx, home_dir):
    plain = yield ctx.activity(read_lease, home_dir)                      # the engine's limit, its pace included
    long = yield ctx.activity(read_lease, home_dir, start_to_close=600)   # a long attempt of its own
    return [plain, long]


@workflow
def exits(ctx):
    yield ctx.sleep(0)
    raise SystemExit(5)   # the learner's bug: it would stop the worker, not the workflow


class OutOfSeats(BaseException):
    """A class of the learner's not under Exception."""


@activity("Book", seconds=0)
def book_seat(act):
    raise OutOfSeats("full")


@workflow
def books(ctx):
    yield ctx.activity(book_seat)
    return "booked"


@workflow
def fulfill_trip(ctx, trip, traveller):
    """Named like the course's order, and not it: described by its own arguments."""
    yield ctx.sleep(0)
    return f"{trip} for {traveller}"
