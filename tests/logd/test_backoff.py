import random

from logd.backoff import Backoff


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    schedule = Backoff(base_s=0.1, cap_s=5.0)
    for attempt in range(1, 12):
        ceiling = min(5.0, 0.1 * 2 ** (attempt - 1))
        delays = [schedule.delay(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range


def test_retry_after_is_a_floor() -> None:
    rng = random.Random(1)
    assert all(Backoff().delay(1, 3.0, rng=rng) >= 3.0 for _ in range(100))
    assert Backoff(cap_s=1.0).delay(9, 120.0, rng=rng) == 120.0
