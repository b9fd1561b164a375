"""Scene 09's order for Temporal's Python SDK: `simcore.scenarios.s09.cancellable_order`, line for line.
Charge, reserve, two hours of packing that a `cancel` signal cuts short (refund, release); else ship
and a 14-day return window in which a cancel sends a return label. A query `status` reads where it
is; an update `change_address` is refused once the parcel has left."""
import asyncio
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@workflow.defn(name="cancellable_order")
class CancellableOrder:
    def __init__(self) -> None:
        self.status, self.address, self.why = "received", "1 Old Street", None

    @workflow.query(name="status")
    def get_status(self) -> str:
        return self.status

    @workflow.signal(name="cancel")
    def cancel(self, why: str) -> None:
        self.why = why

    @workflow.update(name="change_address")
    def change_address(self, new: str) -> str:
        before, self.address = self.address, new
        return f"{before} -> {new}"

    @change_address.validator
    def not_shipped_yet(self, new: str) -> None:
        if not self.status.startswith(("received", "packing")):
            raise ValueError(f"too late, the order is {self.status.split(':')[0]}")

    async def _cancelled_within(self, wait: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self.why is not None, timeout=wait)
        except asyncio.TimeoutError:
            return False
        return True

    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        self.status = "packing: ships within 2 hours"
        if await self._cancelled_within(timedelta(hours=2)):
            await workflow.execute_activity("RefundCard", args=[order_id, cents], **STEP)
            await workflow.execute_activity("ReleaseInventory", order_id, **STEP)
            self.status = f"cancelled before shipping ({self.why}): refunded"
            return self.status
        await workflow.execute_activity("ShipPackage", order_id, **STEP)
        self.status = f"shipped to {self.address}: the 14-day return window is open"
        if await self._cancelled_within(timedelta(days=14)):
            await workflow.execute_activity("SendReturnLabel", order_id, **STEP)
            self.status = f"cancelled after shipping ({self.why}): return label sent"
            return self.status
        self.status = "delivered; the return window has closed"
        return self.status
