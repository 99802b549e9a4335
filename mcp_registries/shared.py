"""A Redis or Valkey server as the cache every replica shares (`MCP_REGISTRIES_CACHE_URL`).

Behind the same interface as diskcache (`cache.Cache`), with the same keys, TTLs and stale window: an
entry expires on the server `STALE_WINDOW` after its TTL, so a stale answer is still there for
stale-if-error. Keys carry a prefix and the schema version (`mcp-registries:v2.1:<key>`): an upgrade never
reads an older layout, and other programs' keys are never touched. Values are `codec` records, never
pickles: a replica must not run what another wrote.

One fetch for all replicas: a replica that misses claims the key with a short-lived lock (SET NX PX with
an owner token, through redis-py's `Lock`), renewed while its fetch runs; the others poll for the lock's
end (a few milliseconds apart, growing) and read the answer it left. A leader that dies stops renewing:
its lock expires within `LEASE` and the followers fetch for themselves.

The server going away (stopped, killed, unreachable, slow) never fails a call: each operation has a time
limit, the first failure logs one warning and turns the cache off for this replica (answers come from
upstream and the memory front), a probe in the background asks the server every second and turns it
back on when it answers. `state` says "degraded" meanwhile, and `/healthz` shows it.

Client: redis-py's asyncio client. It is the client Redis maintains, speaks to Valkey unchanged (same
protocol), takes `redis://`, `rediss://` and `unix://` URLs, ships `Lock`, and parses big replies in C
when `hiredis` is installed (a dependency here: the 33 MB project-name index is read in 65 ms rather
than 101 ms on loopback; small values gain little).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio.to_thread
import redis.asyncio
from redis.asyncio.lock import Lock
from redis.backoff import NoBackoff
from redis.exceptions import LockError, RedisError
from redis.retry import Retry

from . import codec
from .cache import ALONE, SCHEMA, STALE_WINDOW, Entry, Lead

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "mcp-registries"
#: Seconds a leader's claim lasts unless renewed (renewed every third of it while the fetch runs).
LEASE = 6.0
#: The longest a follower waits for a leader that keeps renewing (the engine's own limits end a fetch
#: sooner: 30 s per document by default).
FOLLOW_LIMIT = 60.0
#: Time limits per operation: small values, and the keys known to hold tens of megabytes.
OP_TIMEOUT = 1.0
LARGE_TIMEOUT = 60.0
LARGE_KEYS = ("names|",)
#: Values larger than this are not shared (the memory front still keeps them).
MAX_VALUE = 64 * 1024 * 1024
PROBE_EVERY = 1.0
#: Records from this size on are decoded in a worker thread.
BIG = 1024 * 1024
_FAILURES = (RedisError, OSError, TimeoutError)


def redacted(url: str) -> str:
    """The URL without its credentials, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisCache:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        lease: float = LEASE,
        op_timeout: float = OP_TIMEOUT,
        probe_every: float = PROBE_EVERY,
    ) -> None:
        self.url = redacted(url)
        self.lease = lease
        self.op_timeout = op_timeout
        self.probe_every = probe_every
        self.prefix = f"{prefix}:{SCHEMA}.{codec.VERSION}:"
        #: reads: entries read back (as DiskCache counts them); writes; leads; follows; failures.
        self.stats: Counter[str] = Counter()
        self._owner = uuid.uuid4().hex[:12]
        # One immediate retry inside the client, on a new connection: a pooled connection the server closed
        # (a restart, an idle timeout) fails once. No backoff: an outage is to get past, not to wait out.
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=op_timeout, retry=Retry(NoBackoff(), 1), health_check_interval=30
        )
        self._down_since: float | None = None
        self._probe: asyncio.Task[None] | None = None
        self._unshareable: set[str] = set()

    @property
    def state(self) -> str:
        return "ok" if self._down_since is None else "degraded"

    # -- the Cache interface -------------------------------------------------------------------

    async def get(self, key: str) -> Entry | None:
        if self._down_since is not None:
            return None
        try:
            raw = await self._call(self._redis.get(self.prefix + key), _limit(key))
        except _FAILURES as exc:
            self._failed(exc)
            return None
        if not isinstance(raw, bytes):  # None: not there (the client is set to give bytes, never text)
            return None
        try:
            # A record of megabytes (the project index) is copied into its parts off the event loop.
            entry = codec.decode(raw) if len(raw) < BIG else await anyio.to_thread.run_sync(codec.decode, raw)
        except codec.Unreadable as exc:
            log.warning("ignoring an unreadable shared cache entry %r: %s", key[:80], exc)
            return None
        self.stats["reads"] += 1
        return entry

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        if self._down_since is not None:
            return
        entry = Entry(value=value, stored_at=time.time(), ttl=ttl, validators=validators)
        try:
            # Buffers (the project index, tens of MB) are joined off the event loop.
            record = (
                await anyio.to_thread.run_sync(codec.encode, entry)
                if isinstance(value, tuple)
                else codec.encode(entry)
            )
        except codec.Unshareable as exc:
            kind = type(value).__name__
            if kind not in self._unshareable:  # once per kind: a missing codec is a bug to see, not to repeat
                self._unshareable.add(kind)
                log.warning("not sharing cache entries of kind %s (%s)", kind, exc)
            return
        if len(record) > MAX_VALUE:
            log.info("not sharing %s: %d bytes", key[:80], len(record))
            return
        expires = math.ceil((ttl + STALE_WINDOW) * 1000)
        try:
            await self._call(self._redis.set(self.prefix + key, record, px=expires), _limit(key))
        except _FAILURES as exc:
            self._failed(exc)
            return
        self.stats["writes"] += 1

    async def lead(self, key: str) -> Lead:
        if self._down_since is not None:
            return ALONE
        lock = Lock(
            self._redis,
            f"{self.prefix}lock:{key}",
            timeout=self.lease,
            blocking=False,
            thread_local=False,
            raise_on_release_error=False,
        )
        try:
            granted = await self._call(lock.acquire(token=f"{self._owner}:{uuid.uuid4().hex[:8]}"))
        except _FAILURES as exc:
            self._failed(exc)
            return ALONE
        if granted:
            # Another replica may have stored the answer between this one's miss and its claim.
            entry = await self.get(key)
            if entry is not None and entry.fresh:
                with contextlib.suppress(LockError, *_FAILURES):
                    await self._call(lock.release())
                self.stats["follows"] += 1
                return _SharedLead(self, key, lock, granted=False, found=entry)
        self.stats["leads" if granted else "follows"] += 1
        return _SharedLead(self, key, lock, granted=bool(granted))

    async def flush(self) -> None:
        return None

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self._redis.aclose()

    # -- failures and recovery ------------------------------------------------------------------

    async def _call(self, operation: Awaitable[T], limit: float | None = None) -> T:
        async with asyncio.timeout(limit or self.op_timeout):
            return await operation

    def _failed(self, exc: BaseException) -> None:
        self.stats["failures"] += 1
        if self._down_since is not None:
            return
        self._down_since = time.monotonic()
        why = "no answer in time" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "shared cache %s failed (%s); answering without it until it is back (checked every %.0f s)",
            self.url,
            why,
            self.probe_every,
        )
        self._probe = asyncio.get_running_loop().create_task(self._wait_until_back())

    async def _wait_until_back(self) -> None:
        while True:
            await asyncio.sleep(self.probe_every)
            try:
                await self._call(self._redis.ping())
            except _FAILURES:
                continue
            # The connections opened before the outage lead nowhere now.
            await self._redis.connection_pool.disconnect()
            assert self._down_since is not None
            log.warning(
                "shared cache %s is back after %.0f s; sharing again",
                self.url,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
            return


def _limit(key: str) -> float | None:
    return LARGE_TIMEOUT if key.startswith(LARGE_KEYS) else None


class _SharedLead:
    def __init__(
        self, cache: RedisCache, key: str, lock: Lock, *, granted: bool, found: Entry | None = None
    ) -> None:
        self.cache, self.key, self.lock, self.granted = cache, key, lock, granted
        self._found = found
        self._renewal = asyncio.get_running_loop().create_task(self._renew()) if granted else None

    async def _renew(self) -> None:
        """Keep the claim while this replica fetches: a long fetch is not taken for a dead leader."""
        while True:
            await asyncio.sleep(self.cache.lease / 3)
            try:
                await self.cache._call(self.lock.reacquire())
            except (LockError, *_FAILURES):
                return  # lost (expired, or the server went away): the followers fetch for themselves

    async def follow(self) -> Entry | None:
        """Wait for the leader's claim to end (bounded), then read what it stored."""
        if self._found is not None:
            return self._found
        deadline = time.monotonic() + FOLLOW_LIMIT
        pause = 0.002
        try:
            while await self.cache._call(self.lock.locked()) and time.monotonic() < deadline:
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, 0.02)
        except _FAILURES as exc:
            self.cache._failed(exc)
            return None
        return await self.cache.get(self.key)

    async def release(self) -> None:
        if self._renewal is None:
            return
        self._renewal.cancel()
        if self.cache.state != "ok":
            return  # it expires on its own
        try:
            await self.cache._call(self.lock.release())
        except (LockError, *_FAILURES):
            pass  # expired already, or the server is going away: either way the claim ends
