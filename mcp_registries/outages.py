"""Per-upstream health: after an upstream fails, calls stop paying its retry and timeout budget.

An upstream (one configured base URL, or one origin for documents elsewhere) that failed after its
retries is *down* for a cool-down: every request to it fails at once with the same sentence and the
time of the next try, so that a caller with a stale entry is answered from it at once (the service's
stale-if-error path) and one without gets the sentence without waiting. When the cool-down ends, one
request is let through as the probe; the others keep failing fast until it has answered. Any answer
(even a 404) ends the outage; another failure starts a new cool-down.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RateLimited, UpstreamError

#: The longest a Retry-After makes a cool-down (a service asking for an hour is asked again sooner).
MAX_COOLDOWN = 600.0


@dataclass(slots=True)
class _Outage:
    error: UpstreamError
    until: float
    probing: bool = False


class Outages:
    def __init__(self, cooldown: float, now: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self._now = now
        self._down: dict[str, _Outage] = {}

    def admit(self, upstream: str) -> bool:
        """Raise the outage's error at once, or let the request go (True: it is the probe)."""
        outage = self._down.get(upstream)
        if outage is None:
            return False
        now = self._now()
        if now < outage.until:
            raise _fail_fast(outage.error, f"it is tried again in {math.ceil(outage.until - now)} s")
        if outage.probing:
            raise _fail_fast(outage.error, "it is being tried again now")
        outage.probing = True
        return True

    def failed(self, upstream: str, error: UpstreamError) -> None:
        cooldown = self.cooldown
        if isinstance(error, RateLimited) and error.retry_after is not None:
            cooldown = max(cooldown, min(error.retry_after, MAX_COOLDOWN))
        self._down[upstream] = _Outage(error, self._now() + cooldown)

    def answered(self, upstream: str) -> None:
        self._down.pop(upstream, None)

    def gave_up(self, upstream: str) -> None:
        """The probe is over: a no-op when its answer ended the outage or started a new one (neither is
        probing); after a cancellation or a refusal before sending, the next request probes instead."""
        outage = self._down.get(upstream)
        if outage is not None:
            outage.probing = False

    def down(self) -> list[str]:
        return [upstream for upstream, outage in self._down.items() if outage.until > self._now()]


def _fail_fast(error: UpstreamError, when: str) -> UpstreamError:
    # A copy per call: the service marks each error with what it served instead.
    fresh = copy.copy(error)
    fresh.served_stale = None
    fresh.next_try = when
    return fresh
