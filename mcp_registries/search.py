"""The `search` tool and did-you-mean, from one machinery per registry.

npm: the registry's own search endpoint (full-text ranking), cached briefly. PyPI: its project index
(`registries.pypi_names`), downloaded once, kept in the cache for a day, searched by name. A not-found
package error ends with up to three close names that exist, found the same way within about a second;
a PyPI index still loading keeps loading for the next call.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Awaitable, Callable

import anyio

from .budget import fit_search
from .cache import Cache, Entry, MemoryFront, NullCache
from .errors import NotFound, RegistryError, SearchUnavailable, UpstreamError
from .fetching import Engine, NotModified, _age
from .models import SearchHit, SearchResult
from .operations import Query
from .registries.base import PackageIndex, Registry
from .registries.npm import Npm
from .registries.npm_search import SearchPage
from .registries.npm_search import search as npm_search
from .registries.pypi import PyPI
from .registries.pypi_names import Names
from .similarity import closest

log = logging.getLogger(__name__)

#: The project index changes by a few hundred names a day.
TTL_NAMES = 24 * 3600.0
TTL_SEARCH = 600.0
#: npm search pages kept in memory (each a few KB).
SEARCH_PAGES = 256
#: How long a not-found answer may wait for its suggestions.
SUGGEST_SECONDS = 1.0
#: Results of a page that carry latest version, summary and release date (fetched concurrently).
DETAILED = 10
#: npm results asked for to pick did-you-mean names from.
SUGGEST_POOL = 20
#: After a registry said it has no search, did-you-mean does not ask it again for this long.
NO_SEARCH_SECONDS = 600.0

Details = Callable[[Registry, str], Awaitable[PackageIndex]]


class ProjectNames:
    """PyPI's project index in this process: loaded in the background, once, and refreshed after a day.

    The cache keeps the compact form (`Names.blobs()`), so a restarted server reads it back in
    milliseconds; only the first process of the day downloads the index.
    """

    def __init__(self, engine: Engine, cache: Cache, pypi: PyPI) -> None:
        self.engine = engine
        self.cache = cache
        self.pypi = pypi
        self.key = f"names|pypi|{pypi.origin}"
        self._names: Names | None = None
        self._notes: list[str] = []
        self._expires = 0.0
        self._task: asyncio.Task[None] | None = None
        #: Set once a load has an index to search (before it is written to the cache).
        self._ready = asyncio.Event()

    @property
    def loading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def get(self, wait: float | None = None) -> tuple[Names, list[str]] | None:
        """The index (with notes when it is a stale copy); None when it is not ready within `wait` seconds.

        Raises the upstream's error when there is no index at all to answer from.
        """
        if self._names is not None and time.monotonic() < self._expires:
            return self._names, list(self._notes)
        task = self._task
        if task is None or task.done():
            # Not tied to the caller: a did-you-mean that stops waiting leaves it loading for the next call.
            self._ready = asyncio.Event()
            task = self._task = asyncio.get_running_loop().create_task(self._load())
        if self._names is not None:
            # A day old: searched while the new copy loads (stale while revalidating).
            return self._names, list(self._notes)
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({task, ready}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._names is not None:
            return self._names, list(self._notes)
        if not task.done():
            return None
        error = task.exception()
        raise error if error is not None else RuntimeError("the project index did not load")

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _load(self) -> None:
        entry = await self.cache.get(self.key)
        if entry is not None and entry.fresh:
            names = _from_cache(entry.value)
            if names is not None:
                self._keep(names, [], entry.ttl - entry.age)
                return
        # Replicas sharing a cache server download the index once: the others read what the first stored.
        lead = await self.cache.lead(self.key)
        try:
            if not lead.granted:
                shared = await lead.follow()
                names = _from_cache(shared.value) if shared is not None and shared.fresh else None
                if shared is not None and names is not None:
                    self._keep(names, [], shared.ttl - shared.age)
                    return
                entry = shared or entry
            await self._fetch(entry)
        finally:
            if lead.granted:
                await lead.release()

    async def _fetch(self, entry: Entry | None) -> None:
        stale = entry if entry is not None and not entry.fresh else None
        try:
            reader, validators = await self.engine.run(
                self.pypi.project_names(), stale.validators if stale else None
            )
        except NotModified:
            assert stale is not None
            names = _from_cache(stale.value)
            if names is not None:
                await self.cache.set(self.key, stale.value, TTL_NAMES, stale.validators)
                self._keep(names, [], TTL_NAMES)
                return
            reader, validators = await self.engine.run(self.pypi.project_names())
        except UpstreamError as exc:
            names = _from_cache(stale.value) if stale is not None else None
            if names is None or stale is None:
                raise
            log.warning("searching a stale PyPI project index: %s", exc.message)
            note = f"PyPI's project index is {_age(stale.age)} old: fetching it again failed ({exc.what})"
            # Tried again at the next search after a short while, not at every call.
            self._keep(names, [note], 60.0)
            return
        started = time.perf_counter()
        names = await anyio.to_thread.run_sync(reader.build)
        log.info("PyPI project index: %d names indexed in %.2f s", len(names), time.perf_counter() - started)
        self._keep(names, [], TTL_NAMES)
        del reader
        # Searches need not wait for ~40 MB to reach the disk: `_keep` told them the index is ready.
        await self.cache.set(self.key, names.blobs(), TTL_NAMES, validators)
        _give_back_free_memory()

    def _keep(self, names: Names, notes: list[str], seconds: float) -> None:
        self._names, self._notes = names, notes
        self._expires = time.monotonic() + max(seconds, 1.0)
        self._ready.set()


def _give_back_free_memory() -> None:
    """Return the heap the build freed to the system (glibc keeps it otherwise: ~25 MB of RSS for good)."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _from_cache(value: object) -> Names | None:
    if not isinstance(value, tuple):
        return None
    try:
        return Names.from_blobs(value)
    except ValueError:
        log.warning("ignoring a cached PyPI project index that does not fit together")
        return None


class Searcher:
    """`search` for both registries, and the close names a not-found error suggests."""

    def __init__(self, engine: Engine, cache: Cache, npm: Npm, pypi: PyPI, details: Details) -> None:
        self.engine = engine
        self.npm = npm
        self.pypi = pypi
        self.details = details
        self.project_names = ProjectNames(engine, cache, pypi)
        #: npm's search pages live ten minutes in this process's memory only: a disk round trip (two worker
        #: thread hops, ~0.7 ms) cost more than the page is worth keeping past a restart.
        caching = engine.cache_enabled and not isinstance(cache, NullCache)
        pages: Cache = MemoryFront(NullCache(), SEARCH_PAGES) if caching else NullCache()
        self.pages = Engine(engine.client, pages, cache_enabled=caching)
        self._no_search_until = 0.0

    async def aclose(self) -> None:
        await self.project_names.aclose()

    async def search(self, registry: Registry, query: Query) -> SearchResult:
        assert query.text is not None
        start = (query.page - 1) * query.page_size
        if registry is self.npm:
            result = await self._npm(query, start)
        else:
            result = await self._pypi(query, start)
        return fit_search(result, asked="page_size" in query.given)

    async def _npm(self, query: Query, start: int) -> SearchResult:
        assert query.text is not None
        page, notes = await self._npm_page(query.text, start, query.page_size)
        total = page.total
        return SearchResult(
            registry="npm",
            query=query.text,
            total=total,
            page=query.page,
            page_size=query.page_size,
            has_more=start + len(page.hits) < total
            if total is not None
            else len(page.hits) == query.page_size,
            results=page.hits,
            notes=notes,
        )

    async def _npm_page(self, words: str, start: int, size: int) -> tuple[SearchPage, list[str]]:
        return await self.pages.cached(
            f"search|npm|{self.npm.origin}|{start}|{size}|{words}",
            TTL_SEARCH,
            lambda: npm_search(self.npm.registry_url, words, start, size),
        )

    async def _pypi(self, query: Query, start: int) -> SearchResult:
        assert query.text is not None
        loaded = await self.project_names.get()
        assert loaded is not None
        names, notes = loaded
        # Tens of milliseconds at most, in C mostly (holding the GIL): a worker thread would not free the loop.
        found = names.search(query.text, start, start + query.page_size)
        hits = [SearchHit(name=hit.name, match=hit.match) for hit in found.hits]
        hits, detail_notes = await self._detailed(hits)
        return SearchResult(
            registry="pypi",
            query=query.text,
            total=found.total,
            page=query.page,
            page_size=query.page_size,
            has_more=start + query.page_size < found.total,
            results=hits,
            notes=[*found.notes, *detail_notes, *notes],
        )

    async def _detailed(self, hits: list[SearchHit]) -> tuple[list[SearchHit], list[str]]:
        """The first results with their latest version, summary and release date, fetched concurrently."""
        first = hits[:DETAILED]
        filled: list[SearchHit | None] = [None] * len(first)
        failures: list[str] = []

        async def fill(position: int, hit: SearchHit) -> None:
            try:
                index = await self.details(self.pypi, self.pypi.check_name(hit.name))
            except NotFound:
                failures.append(hit.name)
                return
            except RegistryError as exc:
                failures.append(hit.name)
                log.info("no details for search result %s: %s", hit.name, exc.message)
                return
            filled[position] = hit.model_copy(
                update={
                    "name": index.name,
                    "latest_version": index.latest_version,
                    "summary": index.summary,
                    "released": index.latest_release_date,
                }
            )

        async with anyio.create_task_group() as group:
            for position, hit in enumerate(first):
                group.start_soon(fill, position, hit)
        notes = []
        if failures:
            notes.append(
                f"{len(failures)} of the first {len(first)} results have no version or summary: "
                "their package documents could not be fetched"
            )
        if len(hits) > DETAILED:
            notes.append(
                f"results after the first {DETAILED} carry the name only; the package tool gives the rest"
            )
        return [f or h for f, h in zip(filled, first, strict=True)] + hits[DETAILED:], notes

    # -- did-you-mean ----------------------------------------------------------------------

    async def suggest(self, registry: Registry, name: str) -> list[str]:
        """Up to three names close to `name` that exist; [] when none is known within about a second."""
        deadline = anyio.current_time() + SUGGEST_SECONDS
        try:
            with anyio.fail_after(SUGGEST_SECONDS):
                if registry is self.npm:
                    return await self._npm_close(name)
                loaded = await self.project_names.get(wait=max(0.0, deadline - anyio.current_time()))
                return loaded[0].close(name) if loaded is not None else []
        except TimeoutError:
            return []
        except RegistryError as exc:
            log.info("no suggestions for %s: %s", name[:80], exc.message)
            return []

    async def _npm_close(self, name: str) -> list[str]:
        if time.monotonic() < self._no_search_until:
            return []
        try:
            page, _ = await self._npm_page(name, 0, SUGGEST_POOL)
        except SearchUnavailable:
            self._no_search_until = time.monotonic() + NO_SEARCH_SECONDS
            raise
        return closest(name, [hit.name for hit in page.hits])
