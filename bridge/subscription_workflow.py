"""Scene 08's monthly subscription written for Temporal's Python SDK: bill, sleep 30 days, and every 12
months continue as new with the state as input. The same names and arguments as
`tests/test_service.py`'s workflow, so each run's history replays here."""
from datetime import timedelta

from temporalio import workflow

STEP = {"start_to_close_timeout": timedelta(seconds=10)}


@workflow.defn(name="subscription")
class Subscription:
    @workflow.run
    async def run(self, customer: str, month: int, months: int) -> str:
        for _ in range(12):
            if month > months:
                return f"{months} months billed"
            await workflow.execute_activity("ChargeCard", args=[customer, month], **STEP)
            month += 1
            await workflow.sleep(timedelta(days=30))
        workflow.continue_as_new(args=[customer, month, months])
