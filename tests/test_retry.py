import pytest

from simcore.retry import ActivityOptions, PolicyError, RetryPolicy


def test_the_schedule_is_exactly_the_policy():
    p = RetryPolicy(initial_interval=1, backoff_coefficient=2, maximum_interval=10)
    assert p.schedule(7) == [1, 2, 4, 8, 10, 10]
    assert RetryPolicy().cap == 100 and RetryPolicy(initial_interval=2).schedule(3) == [2, 4]


def test_attempts_and_non_retryable_errors():
    p = RetryPolicy(maximum_attempts=3, non_retryable_error_types=("CardDeclined",))
    assert p.retries(1, "Timeout") and p.retries(2, "Timeout") and not p.retries(3, "Timeout")
    assert not p.retries(1, "CardDeclined")
    assert RetryPolicy().retries(10_000, "Timeout")   # 0 = unlimited


def test_jitter_stays_within_its_fraction():
    import random
    p = RetryPolicy(initial_interval=10, jitter=0.2)
    waits = [p.interval(1, random.Random(s)) for s in range(200)]
    assert all(8 <= w <= 12 for w in waits) and len(set(waits)) > 100


@pytest.mark.parametrize("kwargs, says", [
    ({"backoff_coefficient": 0.5}, "backoff_coefficient must be >= 1"),
    ({"initial_interval": 5, "maximum_interval": 2}, "maximum_interval (2) must be >= initial_interval (5)"),
    ({"initial_interval": 0}, "initial_interval must be > 0"),
    ({"maximum_attempts": -1}, "maximum_attempts must be >= 0"),
    ({"jitter": 1.5}, "jitter is a fraction"),
])
def test_nonsense_policies_are_refused_naming_the_field(kwargs, says):
    with pytest.raises(PolicyError) as err:
        RetryPolicy(**kwargs)
    assert says in str(err.value)


def test_timeouts_must_be_positive_and_round_trip_as_json():
    with pytest.raises(PolicyError, match="start_to_close must be a positive number"):
        ActivityOptions(start_to_close=-1)
    o = ActivityOptions(retry=RetryPolicy(maximum_attempts=2, non_retryable_error_types=("X",)), heartbeat=3)
    assert ActivityOptions.from_json(o.to_json()) == o
