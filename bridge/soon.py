"""Scenes 08, 09 and 11 with their days as seconds, each written twice: for the course's engine (`@workflow`
generators) and for Temporal's Python SDK (classes), line for line. A real server keeps real time and
a dev server cannot skip it, so the month of scene 08 and the kiln of scene 11 last seconds here;
everything else (the timers, the kill, the patch marker) is as in the scenes.
"""
import asyncio
from datetime import timedelta

from temporalio import workflow as temporal

from simcore.orders import charge_card_keyed as charge_card
from simcore.orders import refund_card_keyed as refund_card
from simcore.orders import reserve_inventory_keyed as reserve_inventory
from simcore.orders import send_review_request_keyed as send_review_request
from simcore.orders import ship_package_keyed as ship_package
from simcore.scenarios.versions import fraud_check
from simcore.workflow import CancelledError, workflow

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


# -- scene 08: a subscription billed every `seconds`, continuing as new every `per_run` months -------
@workflow
def subscription_soon(ctx, customer, month, months, seconds, per_run):
    for _ in range(per_run):
        if month > months:
            return f"{months} months billed"
        yield ctx.activity(charge_card, customer, 999)
        month += 1
        yield ctx.sleep(seconds)                 # scene 08's month
    yield ctx.continue_as_new(customer, month, months, seconds, per_run)


@temporal.defn(name="subscription_soon")
class SubscriptionSoon:
    @temporal.run
    async def run(self, customer: str, month: int, months: int, seconds: float, per_run: int) -> str:
        for _ in range(per_run):
            if month > months:
                return f"{months} months billed"
            await temporal.execute_activity("ChargeCard", args=[customer, 999], **STEP)
            month += 1
            await temporal.sleep(seconds)
        temporal.continue_as_new(args=[customer, month, months, seconds, per_run])


# -- scene 09: a cancellation request (not a signal): the code cleans up and ends cancelled -----------
@workflow
def cancel_soon(ctx, order_id, cents, seconds):
    yield ctx.activity(charge_card, order_id, cents)
    try:
        yield ctx.sleep(seconds)                 # a day to change one's mind
    except CancelledError:                       # the cancel request, raised where the code waits
        yield ctx.activity(refund_card, order_id, cents)
        raise
    yield ctx.activity(ship_package, order_id)
    return "shipped"


@temporal.defn(name="cancel_soon")
class CancelSoon:
    @temporal.run
    async def run(self, order_id: str, cents: int, seconds: float) -> str:
        await temporal.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        try:
            await temporal.sleep(seconds)
        except asyncio.CancelledError:
            await temporal.execute_activity("RefundCard", args=[order_id, cents], **STEP)
            raise
        await temporal.execute_activity("ShipPackage", order_id, **STEP)
        return "shipped"
