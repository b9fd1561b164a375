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
