"""The clock the retry and outage policy runs on: monotonic seconds, and a sleep measured on them.

`HttpClient` (through `Service`) takes another one in tests: a clock whose sleeps return at once and move
its time forward proves backoff, Retry-After and cool-downs without waiting them out (a test mode
instead of patching `sleep`).
"""

from __future__ import annotations

import time

import anyio


class Clock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
