"""The disk cache: entries survive processes, damage degrades to misses or no cache, never a crash."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import anyio
import pytest

from mcp_registries.cache import DiskCache, Entry, MemoryFront, NullCache, open_cache

pytestmark = pytest.mark.anyio


async def test_entries_are_shared_between_cache_instances(tmp_path: Path) -> None:
    """A value stored by one DiskCache is read by another on the same directory (as another process would)."""
    await DiskCache(tmp_path, 10**7).set("k", {"a": 1}, 60.0, validators="etag")
    entry = await DiskCache(tmp_path, 10**7).get("k")
    assert entry is not None and entry.value == {"a": 1} and entry.fresh and entry.validators == "etag"


async def test_expired_entry_is_kept_for_stale_if_error(tmp_path: Path) -> None:
    """An entry past its TTL is still returned, marked not fresh, so it can be served when upstreams fail."""
    cache = DiskCache(tmp_path, 10**7)
    await cache.set("k", 1, 0.01)
    await anyio.sleep(0.02)
    entry = await cache.get("k")
    assert entry is not None and not entry.fresh and entry.value == 1


def test_corrupted_database_degrades_to_no_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache.db that is not a database means no caching and one warning."""
    (tmp_path / "cache.db").write_bytes(b"\x00garbage" * 500)
    cache = open_cache(tmp_path, enabled=True, size_limit=10**7)
    assert isinstance(cache, NullCache)
    assert "continuing without a cache" in caplog.text


async def test_unreadable_entry_is_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A stored value that no longer unpickles (e.g. written by another version) is a miss with a warning."""
    cache = DiskCache(tmp_path, 10**7)
    await cache.set("k", 1, 60.0)
    store = cache._cache
    assert store is not None
    with sqlite3.connect(tmp_path / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ?", (pickle.dumps(1)[:-3],))
    assert await cache.get("k") is None
    assert "ignoring unreadable cache entry" in caplog.text


async def test_cache_broken_while_running_disables_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the database fails under a running server, caching stops with a warning and calls go on."""
    cache = DiskCache(tmp_path, 10**7)
    await cache.set("k", 1, 60.0)
    # Another process damages the database; the worker threads' open connections see it at once.
    with sqlite3.connect(tmp_path / "cache.db") as db:
        db.execute("DROP TABLE Cache")
    await cache.set("k2", 2, 60.0)
    assert await cache.get("k2") is None
    assert "continuing without a cache" in caplog.text
    assert cache._cache is None


async def test_disabled_cache_is_null(tmp_path: Path) -> None:
    """MCP_REGISTRIES_CACHE=off gives a cache that stores nothing and writes no files."""
    cache = open_cache(tmp_path / "never", enabled=False, size_limit=10**7)
    await cache.set("k", 1, 60.0)
    assert await cache.get("k") is None and not (tmp_path / "never").exists()


async def test_memory_front_serves_fresh_entries_without_reading_disk(tmp_path: Path) -> None:
    """A fresh entry comes from memory as the same live object; the disk is not read again."""
    front = MemoryFront(DiskCache(tmp_path, 10**7))
    value = {"big": list(range(10))}
    await front.set("k", value, 60.0)
    first, second = await front.get("k"), await front.get("k")
    assert first is not None and second is not None and first.value is value and second.value is value
    assert front.stats == {"memory": 2}


async def test_memory_front_looks_below_when_its_copy_is_stale(tmp_path: Path) -> None:
    """A stale memory copy is replaced by a fresher entry another process wrote to the shared directory."""
    front = MemoryFront(DiskCache(tmp_path, 10**7))
    await front.set("k", "old", 0.01)
    await anyio.sleep(0.02)
    await DiskCache(tmp_path, 10**7).set("k", "new", 60.0)
    entry = await front.get("k")
    assert entry is not None and entry.value == "new" and entry.fresh
    assert front.stats["disk"] == 1


async def test_memory_front_keeps_only_the_last_used_entries(tmp_path: Path) -> None:
    """Past its limit the least recently used entry leaves memory but stays on disk."""
    front = MemoryFront(DiskCache(tmp_path, 10**7), entries=2)
    for key in ("a", "b", "c"):
        await front.set(key, key, 60.0)
    assert list(front._entries) == ["b", "c"]
    entry = await front.get("a")
    assert entry is not None and entry.value == "a" and front.stats["disk"] == 1


def test_open_cache_puts_memory_in_front_of_disk(tmp_path: Path) -> None:
    """The production cache is a memory front over diskcache."""
    cache = open_cache(tmp_path, enabled=True, size_limit=10**7)
    assert isinstance(cache, MemoryFront) and isinstance(cache.inner, DiskCache)


async def test_large_values_are_pickled_straight_into_their_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value past the file threshold reaches the disk without a whole-value copy in memory first (the
    stock Disk built one with pickle.dumps and wrote it line by line); small ones stay in the database."""
    whole_copies: list[int] = []
    dumps = pickle.dumps

    def counting_dumps(value: object, *args: object, **kwargs: object) -> bytes:
        data = dumps(value, *args, **kwargs)  # type: ignore[arg-type]
        whole_copies.append(len(data))
        return data

    monkeypatch.setattr(pickle, "dumps", counting_dumps)
    large = (bytearray(b"name\n" * 400_000), b"x" * 100)
    cache = DiskCache(tmp_path, 10**8)
    await cache.set("large", large, 60.0)
    await cache.set("small", {"a": 1}, 60.0)
    assert not [size for size in whole_copies if size > 100_000]
    files = [path for path in tmp_path.rglob("*.val")]
    assert len(files) == 1 and files[0].stat().st_size > 2_000_000
    again = DiskCache(tmp_path, 10**8)
    big, small = await again.get("large"), await again.get("small")
    assert big is not None and big.value == large and small is not None and small.value == {"a": 1}


async def test_memory_front_writes_to_disk_in_the_background(tmp_path: Path) -> None:
    """set() returns before a slow disk write ends; an entry that left memory meanwhile is read once written;
    flush() waits for every write."""
    released = anyio.Event()

    class SlowDisk(DiskCache):
        async def set(self, key: str, value: object, ttl: float, validators: object = None) -> None:
            await released.wait()
            await super().set(key, value, ttl, validators)

    front = MemoryFront(SlowDisk(tmp_path, 10**7), entries=1)
    with anyio.fail_after(2):
        await front.set("a", "A", 60.0)
        await front.set("b", "B", 60.0)  # "a" leaves memory; its write is still waiting
    assert list(front._entries) == ["b"]
    async with anyio.create_task_group() as group:
        got: list[object] = []

        async def read() -> None:
            entry = await front.get("a")
            got.append(entry.value if entry else None)

        group.start_soon(read)
        await anyio.sleep(0.05)
        assert got == []  # waiting for the write, not answering a miss
        released.set()
    assert got == ["A"]
    await front.flush()
    assert (await DiskCache(tmp_path, 10**7).get("b")) is not None


async def test_a_miss_below_returns_what_another_call_kept_meanwhile() -> None:
    """A read below that misses while another call fetches and keeps the key returns the kept entry: else the
    caller, finding no fetch in flight any more, would fetch the same document again."""
    import asyncio

    class SlowMiss(NullCache):
        async def get(self, key: str) -> Entry | None:
            await asyncio.sleep(0.05)
            return None

    front = MemoryFront(SlowMiss())
    reading = asyncio.create_task(front.get("k"))
    await asyncio.sleep(0.01)
    await front.set("k", "fetched by another call", 60)
    found = await reading
    assert found is not None and found.value == "fetched by another call"
    await front.flush()
