"""Scene 08's review request written for Temporal's Python SDK: ship, sleep 30 days, ask for a review.
The same names and arguments as `tests/test_service.py`'s workflow, so a history our engine wrote
(TimerStarted, TimerFired) replays here with Temporal's Replayer."""
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@workflow.defn(name="review_later")
class ReviewLater:
    @workflow.run
    async def run(self, order_id: str) -> str:
        await workflow.execute_activity("ShipPackage", order_id, **STEP)
        await workflow.sleep(timedelta(days=30))
        await workflow.execute_activity("SendReviewRequest", order_id, **STEP)
        return "review requested"
