"""ORDER #1001 written for Temporal's Python SDK: the same four steps, the same names, the same
arguments as `simcore.orders.fulfill_order`, so that a history our engine wrote replays here.

On a Temporal cluster the activities would call the real card network, warehouse, carrier and mail;
here they only need to exist, because a replay answers every activity from the history.
The two extra workflows are the course's "changed code" cases, which replay must refuse.
"""
from datetime import timedelta

from temporalio import activity, workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@activity.defn(name="ChargeCard")
async def charge_card(order_id: str, cents: int) -> str:
    raise NotImplementedError("connect the card network here")


@activity.defn(name="ReserveInventory")
async def reserve_inventory(order_id: str) -> str:
    raise NotImplementedError("connect the warehouse here")


@activity.defn(name="ShipPackage")
async def ship_package(order_id: str) -> str:
    raise NotImplementedError("connect the carrier here")


@activity.defn(name="SendConfirmationEmail")
async def send_confirmation_email(order_id: str) -> str:
    raise NotImplementedError("connect the mail service here")


@activity.defn(name="FraudCheck")
async def fraud_check(order_id: str) -> str:
    raise NotImplementedError


@workflow.defn(name="fulfill_order")
class FulfillOrder:
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        await workflow.execute_activity("ShipPackage", order_id, **STEP)
        await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
        return f"order {order_id} fulfilled"


@workflow.defn(name="fulfill_order")
class SwappedOrder:
    """Reserve before charging: the same steps in another order."""
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ShipPackage", order_id, **STEP)
        await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
        return f"order {order_id} fulfilled"


@workflow.defn(name="fulfill_order")
class FraudCheckInserted:
    """v2 of scene 11, deployed naively: a step inserted before shipping, without a patch."""
    @workflow.run
    async def run(self, order_id: str, cents: int) -> str:
        await workflow.execute_activity("ChargeCard", args=[order_id, cents], **STEP)
        await workflow.execute_activity("ReserveInventory", order_id, **STEP)
        await workflow.execute_activity("FraudCheck", order_id, **STEP)
        await workflow.execute_activity("ShipPackage", order_id, **STEP)
        await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
        return f"order {order_id} fulfilled"


VARIANTS = {"original": FulfillOrder, "swapped": SwappedOrder, "inserted": FraudCheckInserted}
