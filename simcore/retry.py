"""Retry policies and activity timeouts: the engine retries a failed activity, not the activity itself.

Names and defaults follow Temporal's: the wait before attempt n+1 (after attempt n failed) is
`initial_interval * backoff_coefficient ** (n - 1)`, capped at `maximum_interval` (default: 100 times
the initial interval); `maximum_attempts` 0 means unlimited; errors whose type is listed in
`non_retryable_error_types` fail at once. `jitter` (a fraction, ours: Temporal has none) spreads
retries of many clients so they do not arrive in lockstep.

The four timeouts, all in seconds and all optional (None: no limit):
- start_to_close: one attempt, from a worker taking it to its result. The one to set: it is how the
  engine notices a dead worker or a hung call.
- schedule_to_close: the whole activity, all attempts and the waits between them.
- schedule_to_start: waiting in the task queue for a worker (not retried: another attempt would wait
  in the same queue).
- heartbeat: a long attempt must report progress this often, so a dead worker is noticed in seconds
  rather than at the end of start_to_close.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, fields


class PolicyError(ValueError):
    """A retry policy or timeout that makes no sense: says which field and why."""


@dataclass(frozen=True)
class RetryPolicy:
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: float | None = None
    maximum_attempts: int = 0
    jitter: float = 0.0
    non_retryable_error_types: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.initial_interval > 0:
            raise PolicyError(f"initial_interval must be > 0 seconds, got {self.initial_interval}")
        if self.backoff_coefficient < 1:
            raise PolicyError(f"backoff_coefficient must be >= 1 (1 = a fixed interval), got "
                              f"{self.backoff_coefficient}: below 1 the retries would come faster and faster")
        if self.maximum_interval is not None and self.maximum_interval < self.initial_interval:
            raise PolicyError(f"maximum_interval ({self.maximum_interval}) must be >= initial_interval "
                              f"({self.initial_interval})")
        if self.maximum_attempts < 0:
            raise PolicyError(f"maximum_attempts must be >= 0 (0 = unlimited), got {self.maximum_attempts}")
        if not 0 <= self.jitter < 1:
            raise PolicyError(f"jitter is a fraction in [0, 1), got {self.jitter}")
        object.__setattr__(self, "non_retryable_error_types", tuple(self.non_retryable_error_types))

    @property
    def cap(self) -> float:
        return self.maximum_interval if self.maximum_interval is not None else 100 * self.initial_interval

    def interval(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, ...) before the next one."""
        base = min(self.initial_interval * self.backoff_coefficient ** (attempt - 1), self.cap)
        if self.jitter and rng is not None:
            base *= 1 + self.jitter * (2 * rng.random() - 1)
        return base

    def retries(self, attempt: int, error_type: str) -> bool:
        """Does a failure of type `error_type` on attempt `attempt` get another attempt?"""
        if error_type in self.non_retryable_error_types:
            return False
        return self.maximum_attempts == 0 or attempt < self.maximum_attempts

    def schedule(self, attempts: int) -> list[float]:
        """The waits between the first `attempts` attempts, without jitter: what the policy promises."""
        return [self.interval(n) for n in range(1, attempts)]


@dataclass(frozen=True)
class ActivityOptions:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    start_to_close: float | None = None
    schedule_to_close: float | None = None
    schedule_to_start: float | None = None
    heartbeat: float | None = None

    def __post_init__(self):
        if not isinstance(self.retry, RetryPolicy):
            raise PolicyError(f"retry= takes a RetryPolicy(...), got {type(self.retry).__name__} "
                              f"{str(self.retry)[:60]}: write retry=RetryPolicy(maximum_attempts=3, ...)")
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            if value is not None and not value > 0:
                raise PolicyError(f"{f.name} must be a positive number of seconds (or None), got {value}")

    def to_json(self) -> dict:
        retry = {**vars(self.retry), "non_retryable_error_types": list(self.retry.non_retryable_error_types)}
        return {**vars(self), "retry": retry}

    @classmethod
    def from_json(cls, d: dict | None) -> ActivityOptions:
        if not d:
            return cls()
        d = dict(d)
        return cls(retry=RetryPolicy(**d.pop("retry", {})), **d)
