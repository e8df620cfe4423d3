"""How long to wait before trying again: the one exponential backoff of the integration.

Every retry in the portal (a webhook delivery, a dashboard fetch, a Zoom call inside the client,
a task whose database went away) waits `base * 2 ** (attempt - 1)` seconds, capped, and then
spreads that wait so that many workers hitting the same hiccup do not come back in step.
Callers pick the base, the cap and the spread; the formula lives only here.
"""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: float = 0.2) -> float:
    """The wait before retry number `attempt` (1 for the first retry).

    `jitter` spreads the wait by ±that fraction (0.2: between 80 % and 120 % of it); 0 gives
    the exact doubling. The cap applies before the spread.
    """
    wait = min(cap, base * 2 ** max(attempt - 1, 0))
    if jitter:
        wait *= random.uniform(1 - jitter, 1 + jitter)
    return wait


def full_jitter_seconds(attempt: int, *, base: float, cap: float) -> float:
    """A wait anywhere between 0 and the capped doubling ("full jitter").

    For quick in-process retries of one HTTP call, where spreading a crowd matters more than
    any lower bound; see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
    """
    return random.uniform(0, backoff_seconds(attempt, base=base, cap=cap, jitter=0))
