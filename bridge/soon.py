"""Scenes 08 and 11 with their days as seconds, each written twice: for the course's engine (`@workflow`
generators) and for Temporal's Python SDK (classes), line for line. A real server keeps real time and
a dev server cannot skip it, so the month of scene 08 and the kiln of scene 11 last seconds here;
everything else (the timers, the kill, the patch marker) is as in the scenes.
"""
from datetime import timedelta

from temporalio import workflow as temporal

from simcore.orders import charge_card_keyed as charge_card
from simcore.orders import reserve_inventory_keyed as reserve_inventory
from simcore.orders import ship_package_keyed as ship_package
from simcore.scenarios.s08 import send_review_request
from simcore.scenarios.versions import fraud_check
from simcore.workflow import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


# -- scene 08: ship, sleep, ask for a review -----------------------------------------------------
@workflow
def review_soon(ctx, order_id, seconds):
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(seconds)                    # scene 08's 30 days
    yield ctx.activity(send_review_request, order_id)
    return f"review requested for order {order_id}"


@temporal.defn(name="review_soon")
class ReviewSoon:
    @temporal.run
    async def run(self, order_id: str, seconds: float) -> str:
        await temporal.execute_activity("ShipPackage", order_id, **STEP)
        await temporal.sleep(seconds)
        await temporal.execute_activity("SendReviewRequest", order_id, **STEP)
        return f"review requested for order {order_id}"


# -- scene 11: v1, and v2 patched ----------------------------------------------------------------
@workflow(name="versioned_soon")
def versioned_soon_v1(ctx, order_id, cents, kiln, review):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(kiln)                        # scene 11's 7 days in the kiln
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(review)                      # and 30 days to the review request
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"


@workflow(name="versioned_soon")
def versioned_soon_v2(ctx, order_id, cents, kiln, review):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(kiln)
    if (yield ctx.patched("fraud-check")):
        yield ctx.activity(fraud_check, order_id, cents)
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(review)
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"


async def _kiln(order_id: str, cents: int, kiln: float) -> None:
    await temporal.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
    await temporal.execute_activity("ReserveInventory", order_id, **STEP)
    await temporal.sleep(kiln)


async def _after(order_id: str, review: float) -> str:
    await temporal.execute_activity("ShipPackage", order_id, **STEP)
    await temporal.sleep(review)
    await temporal.execute_activity("SendReviewRequest", order_id, **STEP)
    return f"order {order_id} reviewed"


@temporal.defn(name="versioned_soon")
class VersionedSoonV1:
    @temporal.run
    async def run(self, order_id: str, cents: int, kiln: float, review: float) -> str:
        await _kiln(order_id, cents, kiln)
        return await _after(order_id, review)


@temporal.defn(name="versioned_soon")
class VersionedSoonV2:
    @temporal.run
    async def run(self, order_id: str, cents: int, kiln: float, review: float) -> str:
        await _kiln(order_id, cents, kiln)
        if temporal.patched("fraud-check"):
            await temporal.execute_activity("FraudCheck", args=[order_id, cents], **STEP)
        return await _after(order_id, review)
