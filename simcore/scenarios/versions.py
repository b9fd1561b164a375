"""Scene 11's workflow, four versions of it: v1; v2, which adds FraudCheck before ShipPackage, written
naively and with a patch; and v3, with the patch deprecated. All four are the workflow type
`versioned_order`, as one workflow's code is across deploys. `bridge/version_workflow.py` has the same
four for Temporal's Python SDK, so each engine's histories replay in the other.

The mugs are made to order: charged, reserved, 7 days in the kiln, shipped, and 30 days later a review
request (scene 08's timer). The change point is the line after the kiln.
"""
from __future__ import annotations

from ..orders import charge_card_keyed as charge_card
from ..orders import reserve_inventory_keyed as reserve_inventory
from ..orders import send_review_request_keyed as send_review_request
from ..orders import ship_package_keyed as ship_package
from ..workflow import activity, workflow


@activity("FraudCheck", seconds=1)
def fraud_check(act, order_id, cents):
    return act.world.effect("FraudCheck", order_id, key=act.idempotency_key)


ACTIVITIES = (charge_card, reserve_inventory, fraud_check, ship_package, send_review_request)


@workflow(name="versioned_order")
def order_v1(ctx, order_id, cents):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(days=7)                            # made to order: 7 days in the kiln
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(days=30)                           # scene 08: ask for a review 30 days after shipping
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"


@workflow(name="versioned_order")
def order_v2_naive(ctx, order_id, cents):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(days=7)
    yield ctx.activity(fraud_check, order_id, cents)   # v2: new, before shipping
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(days=30)
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"


@workflow(name="versioned_order")
def order_v2_patched(ctx, order_id, cents):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(days=7)
    if (yield ctx.patched("fraud-check")):             # live: True, and a marker is recorded
        yield ctx.activity(fraud_check, order_id, cents)   # replay: True only if the marker is there
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(days=30)
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"


@workflow(name="versioned_order")
def order_v3_deprecated(ctx, order_id, cents):
    yield ctx.activity(charge_card, order_id, cents)
    yield ctx.activity(reserve_inventory, order_id)
    yield ctx.sleep(days=7)
    yield ctx.deprecate_patch("fraud-check")           # once no order that took the old path is left
    yield ctx.activity(fraud_check, order_id, cents)
    yield ctx.activity(ship_package, order_id)
    yield ctx.sleep(days=30)
    yield ctx.activity(send_review_request, order_id)
    return f"order {order_id} reviewed"

