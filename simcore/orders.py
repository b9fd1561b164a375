"""ORDER #1001: the story every scene tells. Four steps, each an activity that touches the world."""
from __future__ import annotations

from .workflow import activity, workflow

STEPS = ("ChargeCard", "ReserveInventory", "ShipPackage", "SendConfirmationEmail")
ORDER_ID, CENTS = "1001", 4200


@activity("ChargeCard", seconds=2)
def charge_card(act, order_id, cents):
    return act.world.charge(order_id, cents)


@activity("ReserveInventory", seconds=1)
def reserve_inventory(act, order_id):
    return act.world.reserve(order_id, "mug")


@activity("ShipPackage", seconds=3)
def ship_package(act, order_id):
    return act.world.ship(order_id)


@activity("SendConfirmationEmail", seconds=1)
def send_confirmation_email(act, order_id):
    return act.world.email(order_id, "Confirmation")


ACTIVITIES = (charge_card, reserve_inventory, ship_package, send_confirmation_email)


# The same four steps as a production worker registers them: each passes its stable idempotency key,
# so an attempt that runs twice acts once (scene 07 tells why; scene 05 and real-process mode use them).
@activity("ChargeCard", seconds=2)
def charge_card_keyed(act, order_id, cents):
    return act.world.charge(order_id, cents, key=act.idempotency_key)


@activity("ReserveInventory", seconds=1)
def reserve_inventory_keyed(act, order_id):
    return act.world.reserve(order_id, "mug", key=act.idempotency_key)


@activity("ShipPackage", seconds=3)
def ship_package_keyed(act, order_id):
    return act.world.ship(order_id, key=act.idempotency_key)


@activity("SendConfirmationEmail", seconds=1)
def send_confirmation_email_keyed(act, order_id):
    return act.world.email(order_id, "Confirmation", key=act.idempotency_key)


KEYED_ACTIVITIES = (charge_card_keyed, reserve_inventory_keyed, ship_package_keyed, send_confirmation_email_keyed)


# What undoes them (scene 09's cancel, sagas): keyed the same way, so a compensation run twice undoes once.
@activity("RefundCard", seconds=1)
def refund_card_keyed(act, order_id, cents):
    return act.world.refund(order_id, cents, key=act.idempotency_key)


@activity("RefundCard", seconds=1)
def refund_charge_keyed(act, order_id):
    """Refund what the card network says this order was charged: nothing, if the charge never happened."""
    return act.world.refund(order_id, key=act.idempotency_key)


@activity("ReleaseInventory", seconds=1)
def release_inventory_keyed(act, order_id):
    return act.world.release(order_id, "mug", key=act.idempotency_key)


@activity("SendReviewRequest", seconds=1)
def send_review_request_keyed(act, order_id):
    return act.world.email(order_id, "ReviewRequest", key=act.idempotency_key)


@workflow
def fulfill_order(ctx, order_id, cents):
    charged = False
    step = 0
    yield ctx.activity(charge_card, order_id, cents)
    charged, step = True, 1
    yield ctx.activity(reserve_inventory, order_id)
    step = 2
    yield ctx.activity(ship_package, order_id)
    step = 3
    yield ctx.activity(send_confirmation_email, order_id)
    step = 4
    return f"order {order_id} fulfilled"


@activity("SendReturnLabel", seconds=1)
def send_return_label_keyed(act, order_id):
    return act.world.email(order_id, "ReturnLabel", key=act.idempotency_key)


@workflow
def fulfill_and_review(ctx, order_id, cents, review_after):
    """ORDER #1001, then scene 08's review request `review_after` seconds later (`order run
    --review-after 30s`), unless the customer cancels first (`order signal cancel`, scene 09: after
    shipping, a return label): a durable timer and a signal in a real process, surviving kill -9."""
    status = "charging"
    ctx.set_query_handler("status", lambda: status)   # `order query status`: read, never written
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.activity(ship_package, order_id)
    yield ctx.activity(send_confirmation_email, order_id)
    status = f"shipped; a review request in {review_after:g}s unless cancelled"
    which, why = yield ctx.first(ctx.sleep(review_after), ctx.signal("cancel"))
    if which == 1:
        yield ctx.activity(send_return_label_keyed, order_id)
        status = f"cancelled after shipping ({why}): return label sent"
        return f"order {order_id} {status}"
    yield ctx.activity(send_review_request_keyed, order_id)
    status = "fulfilled and reviewed"
    return f"order {order_id} {status}"
