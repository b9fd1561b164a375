"""Scene 03's fixed workflow (`simcore.scenarios.s03.fulfill_ctx_now`) written for Temporal's Python SDK.

`workflow.now()` is the replay-safe clock: the time of the workflow task being processed (the
WorkflowTaskStarted event's time, the same value again on replay), never the machine's wall clock,
as the course's `ctx.now()`. The branch picks the shipping activity: "ShipExpress" before noon
(UTC), "ShipStandard" from noon on. The same names and arguments as the course's workflow, so a
history our engine wrote replays here (tests/test_temporal.py), and scripts/record-temporal-histories
records the `ctx-now` fixture with it.
"""
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@workflow.defn(name="fulfill_order")
class FulfillOrderByClock:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        express = workflow.now().hour < 12
        await workflow.execute_activity("ShipExpress" if express else "ShipStandard", order_id, **STEP)
        await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
        return f"order {order_id} shipped {'express' if express else 'standard'}"
