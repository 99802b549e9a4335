"""diskcache behind a small async interface: keys, TTLs, and stale entries kept for stale-if-error.

An entry stays on disk for `STALE_WINDOW` past its TTL, so that when an upstream fails a
recent-enough answer can still be served (marked stale, with its age). A cache directory that
cannot be opened or written degrades to no caching with a warning, never a crash.

diskcache blocks (SQLite, its locks for up to `timeout`, pickling indexes of several MB): it runs
in a worker thread, so that one slow read never holds up the other sessions' calls. The memory
front answers warm calls without leaving the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import pickle
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import diskcache

log = logging.getLogger(__name__)

STALE_WINDOW = 7 * 24 * 3600.0
#: Entries kept as live objects in memory (an index of a 3,000-version package is ~1 MB; most are a few KB).
#: A tree touches one index and one version document per package: express's 70 packages are 102 entries,
#: and at 64 its warm tree read a third of them back from disk every time (104 ms against 35 ms).
MEMORY_ENTRIES = 256
SCHEMA = "v2"

# Seconds an answer stays fresh, by kind of data.
TTL_INDEX = 300.0  # latest version, dist-tags, yanks and owners change without notice
TTL_DOWNLOADS = 3600.0  # download counts are published daily
TTL_PARTIAL = 60.0  # an answer missing a part because a secondary fetch failed: retry soon
TTL_NOT_FOUND = 120.0  # a guessed name asked again and again; a package published since shows soon


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    stored_at: float
    ttl: float
    #: The upstream's validators for the one document the value came from, for revalidation.
    validators: Any = None

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.stored_at)

    @property
    def fresh(self) -> bool:
        return self.age < self.ttl


class Lead(Protocol):
    """Who fetches a key that is missing or expired. Alone, this process always does; replicas sharing a
    cache server agree on one (see `shared.py`), and the others follow: they wait for its answer."""

    @property
    def granted(self) -> bool:
        """True: fetch, store, then `release`. False: `follow`."""
        ...

    async def follow(self) -> Entry | None:
        """Once the leader is done (or gone), what the cache holds for the key."""
        ...

    async def release(self) -> None: ...


class _Alone:
    granted = True

    async def follow(self) -> Entry | None:
        return None

    async def release(self) -> None:
        return None


#: The lead of a process that shares its cache with no other (or whose shared cache is unreachable).
ALONE: Lead = _Alone()


class Cache(Protocol):
    #: "ok", "degraded" (the cache failed: answers go on without it) or "off".
    @property
    def state(self) -> str: ...

    async def get(self, key: str) -> Entry | None: ...

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None: ...

    async def flush(self) -> None:
        """Wait for the writes still under way (before closing)."""
        ...

    async def lead(self, key: str) -> Lead:
        """Claim the fetch of `key` (see `Lead`)."""
        ...

    async def aclose(self) -> None: ...


class NullCache:
    state = "off"

    async def lead(self, key: str) -> Lead:
        return ALONE

    async def get(self, key: str) -> Entry | None:
        return None

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


_DISK_ERRORS = (OSError, sqlite3.Error, diskcache.Timeout)
_UNREADABLE = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError, KeyError)


class _StreamingDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's Disk, pickling values of a file's size straight into their file.

    The stock Disk pickles a value into one bytes object, then writes it by iterating over it as lines:
    a 38 MB index (PyPI's project names, 927,088 lines) was copied whole and then cut into a million
    pieces. Here the pickle goes to memory only while it stays below the file threshold.
    """

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> tuple[int, int, Any, Any]:
        if read or type(value) in (bytes, str, int, float):
            return super().store(value, read, key)  # type: ignore[no-any-return]
        spool = _Spool(self, key, value)
        pickle.dump(value, spool, protocol=self.pickle_protocol)
        if spool.file is None:
            return 0, diskcache.core.MODE_PICKLE, None, sqlite3.Binary(spool.buffer.getvalue())
        spool.file.close()
        return spool.size, diskcache.core.MODE_PICKLE, spool.filename, None


class _Spool:
    """A file-like pickle target: memory up to the Disk's file threshold, then the value's own file."""

    def __init__(self, disk: diskcache.Disk, key: Any, value: Any) -> None:
        self.disk, self.key, self.value = disk, key, value
        self.buffer = io.BytesIO()
        self.file: io.BufferedWriter | None = None
        self.filename: str | None = None
        self.size = 0

    def write(self, data: Any) -> int:
        self.size += len(data)
        if self.file is None:
            if self.size < self.disk.min_file_size:
                return self.buffer.write(data)
            self.filename, path = self.disk.filename(self.key, self.value)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.file = open(path, "xb")  # noqa: SIM115 - closed by store(), after pickle.dump
            self.file.write(self.buffer.getbuffer())
            self.buffer = io.BytesIO()
        return self.file.write(data)


class DiskCache:
    """diskcache.Cache is safe across threads and processes sharing one directory (SQLite + files)."""

    def __init__(self, directory: Path, size_limit: int) -> None:
        self.directory = directory
        #: Entries read back (unpickled): a warm call behind a memory front should add none.
        self.stats: Counter[str] = Counter()
        self._cache: diskcache.Cache | None = diskcache.Cache(
            str(directory),
            size_limit=size_limit,
            eviction_policy="least-recently-stored",
            timeout=2,
            disk=_StreamingDisk,
            # diskcache maps up to 64 MB of its database into memory: every entry read stays in RSS (a
            # warm search reading a few hundred cached documents grew the server by 20 MB). The kernel's
            # page cache serves the same reads without counting against the process.
            sqlite_mmap_size=0,
        )

    @property
    def state(self) -> str:
        return "ok" if self._cache is not None else "degraded"

    async def lead(self, key: str) -> Lead:
        return ALONE

    def _disable(self, exc: BaseException) -> None:
        log.warning(
            "cache at %s failed (%s: %s); continuing without a cache", self.directory, type(exc).__name__, exc
        )
        cache, self._cache = self._cache, None
        if cache is not None:
            with contextlib.suppress(*_DISK_ERRORS):
                cache.close()

    async def get(self, key: str) -> Entry | None:
        if self._cache is None:
            return None
        return await anyio.to_thread.run_sync(self.read, key)

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        if self._cache is not None:
            await anyio.to_thread.run_sync(self.write, key, value, ttl, validators)

    async def flush(self) -> None:
        return None

    def read(self, key: str) -> Entry | None:
        """A blocking read (worker threads only)."""
        if self._cache is None:
            return None
        try:
            raw = self._cache.get(f"{SCHEMA}|{key}")
        except _DISK_ERRORS as exc:
            self._disable(exc)
            return None
        except _UNREADABLE as exc:
            # Written by another version of this package, or damaged: a miss, not a crash.
            log.warning("ignoring unreadable cache entry %r: %s: %s", key, type(exc).__name__, exc)
            return None
        if not (isinstance(raw, tuple) and len(raw) == 4):
            return None
        stored_at, ttl, value, validators = raw
        self.stats["reads"] += 1
        return Entry(value=value, stored_at=stored_at, ttl=ttl, validators=validators)

    def write(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        """A blocking write (worker threads only)."""
        if self._cache is None:
            return
        try:
            record = (time.time(), ttl, value, validators)
            self._cache.set(f"{SCHEMA}|{key}", record, expire=ttl + STALE_WINDOW)
        except _DISK_ERRORS as exc:
            self._disable(exc)

    async def aclose(self) -> None:
        if self._cache is not None:
            self._cache.close()


class MemoryFront:
    """The last-used entries as live objects in front of a cache: a warm answer costs no unpickling.

    A fresh entry is served from memory. A stale one is looked up again below, where another process
    sharing the directory may have refreshed it.
    """

    def __init__(self, inner: Cache, entries: int = MEMORY_ENTRIES) -> None:
        self.inner = inner
        self.limit = entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.stats: Counter[str] = Counter()
        self._writes: set[asyncio.Task[None]] = set()
        #: The newest write under way for each key.
        self._pending: dict[str, asyncio.Task[None]] = {}

    @property
    def state(self) -> str:
        return self.inner.state

    def _remember(self, key: str, entry: Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    async def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.fresh:
            self._entries.move_to_end(key)
            self.stats["memory"] += 1
            return entry
        pending = self._pending.get(key)
        if pending is not None:
            # Left memory before it reached the disk: read it once it is there.
            await asyncio.gather(pending, return_exceptions=True)
        below = await self.inner.get(key)
        if below is not None:
            self.stats["disk"] += 1
            self._remember(key, below)
            return below
        # While the read below was under way, another call may have fetched the key and kept it here: without
        # this look, the caller finds no fetch in flight any more and fetches it again.
        kept = self._entries.get(key)
        if kept is not None and kept.fresh and kept is not entry:
            return kept
        return entry

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        """Kept here at once; written below in the background: a call's answer does not wait for the disk
        (an audit's 70 writes, contending for worker threads and SQLite, added ~0.3 s to a cold call)."""
        self._remember(key, Entry(value=value, stored_at=time.time(), ttl=ttl, validators=validators))
        write = self._background(self._write(key, value, ttl, validators))
        self._pending[key] = write
        write.add_done_callback(lambda done: self._done(key, done))

    async def lead(self, key: str) -> Lead:
        lead = await self.inner.lead(key)
        return lead if lead is ALONE else _FrontLead(self, key, lead)

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task

    def _done(self, key: str, write: asyncio.Task[None]) -> None:
        if self._pending.get(key) is write:
            del self._pending[key]

    async def _write(self, key: str, value: Any, ttl: float, validators: Any) -> None:
        try:
            await self.inner.set(key, value, ttl, validators)
        except Exception:
            log.exception("could not write the cache entry %s", key[:80])

    async def flush(self) -> None:
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.inner.flush()

    async def aclose(self) -> None:
        self._entries.clear()
        await self.inner.aclose()


class _FrontLead:
    """A shared lead seen through the memory front: what a follower gets is kept in memory, and the leader
    lets go only once its answer is written below (followers read it there), without the caller waiting."""

    def __init__(self, front: MemoryFront, key: str, lead: Lead) -> None:
        self.front, self.key, self.lead = front, key, lead

    @property
    def granted(self) -> bool:
        return self.lead.granted

    async def follow(self) -> Entry | None:
        entry = await self.lead.follow()
        if entry is not None:
            self.front._remember(self.key, entry)
        return entry

    async def release(self) -> None:
        self.front._background(self._release(self.front._pending.get(self.key)))

    async def _release(self, write: asyncio.Task[None] | None) -> None:
        if write is not None:
            await asyncio.gather(write, return_exceptions=True)
        await self.lead.release()


def disk_reads(cache: Cache) -> int:
    """Entries read back from disk so far, whatever sits in front of the disk cache."""
    inner = getattr(cache, "inner", cache)
    return int(getattr(inner, "stats", {}).get("reads", 0))


def open_cache(directory: Path, *, enabled: bool, size_limit: int) -> Cache:
    if not enabled:
        return NullCache()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return MemoryFront(DiskCache(directory, size_limit))
    except _DISK_ERRORS as exc:
        log.warning("cache directory %s is unusable (%s); continuing without a cache", directory, exc)
        return NullCache()
