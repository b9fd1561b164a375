"""Scene 10's saga for Temporal's Python SDK: `simcore.scenarios.s10.order_saga`, line for line. Temporal
has no saga type; as in the course, the compensations are a list kept by the workflow code, run in
reverse when a step fails for good (Java's `Saga` helper has the same defaults: in order, and stop at
the first compensation that fails unless told to carry on)."""
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

STEP = {"start_to_close_timeout": timedelta(seconds=10)}
CHARGE = {"start_to_close_timeout": timedelta(seconds=5), "retry_policy": RetryPolicy(maximum_attempts=3)}


@workflow.defn(name="order_saga")
class OrderSaga:
    @workflow.run
    async def run(self, order_id: str, cents: int, register: str, on_failure: str, release_attempts: int) -> str:
        undo: list[tuple] = []        # (activity, args, retry policy), in the order the steps were done
        refund = ("RefundCard", [order_id, cents] if register == "before_blind" else [order_id], None)
        try:
            if register != "after":
                undo.append(refund)
            await workflow.execute_activity("ChargeCard", args=[order_id, cents], **CHARGE)
            if register == "after":
                undo.append(refund)
            await workflow.execute_activity("ReserveInventory", order_id, **STEP)
            undo.append(("ReleaseInventory", [order_id], RetryPolicy(maximum_attempts=release_attempts)))
            await workflow.execute_activity("SendConfirmationEmail", order_id, **STEP)
            await workflow.execute_activity("ShipPackage", order_id, **STEP)
        except ActivityError as failed:
            failures = []
            for name, args, retry in reversed(undo):
                try:
                    await workflow.execute_activity(name, args=args, retry_policy=retry, **STEP)
                except ActivityError as undo_failed:
                    if on_failure != "continue":
                        raise _failed(f"order failed, not fully compensated: {_why(undo_failed)}") from None
                    failures.append(undo_failed)
            if failures:
                raise _failed(f"order failed, not fully compensated: {_why(failures[0])}") from None
            await workflow.execute_activity("SendCancellationEmail", order_id, **STEP)
            raise _failed(f"order failed, compensated: {_why(failed)}") from None
        return f"order {order_id} fulfilled"


def _why(e: ActivityError) -> str:
    cause = e.cause
    return f"{getattr(cause, 'type', None) or type(cause).__name__}: {getattr(cause, 'message', str(cause))}"


def _failed(message: str) -> ApplicationError:
    return ApplicationError(message, type="OrderFailed", non_retryable=True)
