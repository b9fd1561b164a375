"""Scene 11's order for Temporal's Python SDK, four ways: v1; v2 deployed naively (FraudCheck inserted
before ShipPackage); v2 patched (`workflow.patched("fraud-check")`); v3 with the patch deprecated. The
same names, activities and timers as `simcore/scenarios/versions.py`, so the histories of either engine
replay here."""
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


async def _start(order_id: str, cents: int) -> None:
    await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
    await workflow.execute_activity("ReserveInventory", order_id, **STEP)
    await workflow.sleep(timedelta(days=7))


async def _fraud_check(order_id: str, cents: int) -> None:
    await workflow.execute_activity("FraudCheck", args=[order_id, cents], **STEP)


async def _finish(order_id: str) -> str:
    await workflow.execute_activity("ShipPackage", order_id, **STEP)
    await workflow.sleep(timedelta(days=30))
    await workflow.execute_activity("SendReviewRequest", order_id, **STEP)
    return f"order {order_id} reviewed"


@workflow.defn(name="versioned_order")
class V1:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await _start(order_id, cents)
        return await _finish(order_id)


@workflow.defn(name="versioned_order")
class V2Naive:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await _start(order_id, cents)
        await _fraud_check(order_id, cents)
        return await _finish(order_id)


@workflow.defn(name="versioned_order")
class V2Patched:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await _start(order_id, cents)
        if workflow.patched("fraud-check"):
            await _fraud_check(order_id, cents)
        return await _finish(order_id)


@workflow.defn(name="versioned_order")
class V3Deprecated:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await _start(order_id, cents)
        workflow.deprecate_patch("fraud-check")
        await _fraud_check(order_id, cents)
        return await _finish(order_id)
