"""Scene 11's order, three ways, for Temporal's Python SDK: v1; v2 deployed naively (FraudCheck inserted
before ShipPackage); v2 patched (`workflow.patched("fraud-check")`). The same names and arguments as
`tests/test_service.py`'s workflows, so their histories replay here."""
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


async def _start(order_id: str, cents: int) -> None:
    await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
    await workflow.execute_activity("ReserveInventory", order_id, **STEP)
    await workflow.sleep(timedelta(days=1))


async def _finish(order_id: str) -> str:
    await workflow.execute_activity("ShipPackage", order_id, **STEP)
    await workflow.sleep(timedelta(days=1))
    await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
    return "delivered"


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
        await workflow.execute_activity("FraudCheck", order_id, **STEP)
        return await _finish(order_id)


@workflow.defn(name="versioned_order")
class V2Patched:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await _start(order_id, cents)
        if workflow.patched("fraud-check"):
            await workflow.execute_activity("FraudCheck", order_id, **STEP)
        return await _finish(order_id)
