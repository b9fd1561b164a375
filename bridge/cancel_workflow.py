"""Scene 09's order that the customer may cancel, written for Temporal's Python SDK: charge, reserve,
then a day to change one's mind; a "cancel" signal in that day refunds and releases, else it ships.
The same names and arguments as `tests/test_service.py`'s workflow, so our histories replay here."""
import asyncio
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@workflow.defn(name="cancellable_order")
class CancellableOrder:
    def __init__(self) -> None:
        self.why = None

    @workflow.signal(name="cancel")
    def cancel(self, why: str) -> None:
        self.why = why

    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        try:
            await workflow.wait_condition(lambda: self.why is not None, timeout=timedelta(days=1))
        except asyncio.TimeoutError:
            await workflow.execute_activity("ShipPackage", order_id, **STEP)
            return "shipped"
        await workflow.execute_activity("RefundCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReleaseInventory", order_id, **STEP)
        return f"cancelled: {self.why}"
