"""A pure retry schedule: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.1
    cap_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None, *, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based).

        Full jitter (uniform in [0, min(cap, base * 2**attempt)]); a server's Retry-After
        is a floor, never shortened by jitter, and capped like everything else.
        """
        ceiling = min(self.cap_s, self.base_s * (2 ** max(attempt - 1, 0)))
        jittered = rng.uniform(0.0, ceiling)
        if retry_after is not None and retry_after > 0:
            return min(max(jittered, retry_after), max(self.cap_s, retry_after))
        return jittered
