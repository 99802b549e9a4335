"""The fetching engine: what an adapter asks for (`Fetch`), how its plan runs over HTTP, and the
cache → single-flight → stale-if-error template every answer goes through, written once.

Adapters never send a request. An operation on an adapter is a *plan*: a generator that yields `Fetch`
descriptions and receives each body back as the Fetch asks (decoded JSON, text, bytes, or what its
reader made of the body as it streamed in), or has `Missing` thrown in for a 404, then returns a
normalized document. `Engine.run` drives plans over any client with a `get` (the shared `HttpClient`);
tests drive them with recorded bodies. Multi-step lookups (PyPI's per-version JSON, then the Simple API,
then a PEP 658 metadata file) stay readable, and parsing stays pure.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import anyio

from .cache import TTL_NOT_FOUND, Cache, Entry
from .errors import InvalidResponse, NotFound, UpstreamError, UpstreamStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request an adapter needs (a GET, or a POST that reads). `service` names the upstream in error
    sentences."""

    url: str
    service: str
    #: json: decoded here; bytes: the adapter decodes only what it needs (big documents); text: metadata.
    body: Literal["json", "text", "bytes"] = "json"
    accept: str = "application/json"
    #: With body="bytes": a fresh reader per response is fed the body as it streams in, and the plan
    #: receives what its `finish` returns. Work done in `feed` runs while later chunks are still on the
    #: wire: after the last byte only what `finish` does is left.
    reader: Callable[[], BodyReader] | None = None
    #: What a 404 for this document means, when the plan lets it pass: the not-found answer to give.
    #: None: a document the registry itself pointed to, whose 404 is the upstream's fault, not an answer.
    absent: NotFound | None = field(default=None, compare=False)
    #: Whose health the answer tells (see outages.py), when not the configured base the URL lies under: a
    #: separate service behind the same base, as npm's search is, must not take the base down with it.
    outage_scope: str | None = None
    #: Seconds this document may take in all, retries included, when not the configured total timeout:
    #: a whole index (40 MB) read in the background, not a document a caller waits for.
    time_limit: float | None = None
    #: A JSON request body, sent as a POST: a query that only reads (OSV's querybatch), so it is retried,
    #: redirected (307/308 only: they keep the method and body) and capped like a GET. Never conditional.
    payload: bytes | None = None

    @property
    def method(self) -> Literal["GET", "POST"]:
        return "GET" if self.payload is None else "POST"


class BodyReader(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Any: ...


class Missing(Exception):
    """The upstream answered 404 (or 410): an answer, thrown into the plan that asked."""

    def __init__(self, fetch: Fetch, status: int = 404) -> None:
        super().__init__(f"{fetch.url} answered {status}")
        self.fetch = fetch
        self.status = status


class BadDocument(ValueError):
    """An upstream body that decoded but does not have the documented shape."""


def undecodable(body: bytes | bytearray | memoryview) -> str:
    """Why a body that should be JSON did not decode, in the words of an invalid-response sentence."""
    return "the body was empty" if not bytes(body).strip() else "not JSON"


T = TypeVar("T")
Plan = Generator[Fetch, Any, T]


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        found = {}
        if self.etag:
            found["If-None-Match"] = self.etag
        if self.last_modified:
            found["If-Modified-Since"] = self.last_modified
        return found


@dataclass(frozen=True, slots=True)
class Fetched:
    data: Any
    #: None when the upstream sent neither ETag nor Last-Modified (many mirrors do not).
    validators: Validators | None


class NotModified(Exception):
    """A conditional request was answered 304: the cached document is still current."""


class Client(Protocol):
    async def get(self, fetch: Fetch, validators: Validators | None = None) -> Fetched: ...


@dataclass(eq=False)
class _Flight:
    done: anyio.Event = field(default_factory=anyio.Event)
    value: Any = None
    notes: list[str] = field(default_factory=list)
    error: BaseException | None = None
    #: The leading caller was cancelled (it gave up, not the upstream): waiters fetch for themselves.
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class Absent:
    """A cached not-found answer: the error to raise again."""

    error: NotFound


def _answer(entry: Entry) -> tuple[Any, list[str]]:
    """A fresh entry's answer: its value, or the not-found error it holds raised again."""
    if isinstance(entry.value, Absent):
        raise copy.copy(entry.value.error)
    return entry.value, []


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


class Engine:
    """Runs plans over one client, behind one cache, with one single-flight table."""

    def __init__(self, client: Client, cache: Cache, *, cache_enabled: bool) -> None:
        self.client = client
        self.cache = cache
        self.cache_enabled = cache_enabled
        self._inflight: dict[str, _Flight] = {}
        #: Plans run (each an upstream fetch and parse): the benchmarks' and tests' proof of warm hits.
        self.stats: Counter[str] = Counter()

    async def run(self, plan: Plan[T], revalidate: Validators | None = None) -> tuple[T, Validators | None]:
        """Drive an adapter's plan: each yielded Fetch goes over HTTP, its body (or failure) goes back.

        With `revalidate`, the plan's first request is conditional and a 304 raises NotModified. The
        validators returned are those of a plan that read exactly one document, the only kind whose
        answer one conditional request can vouch for.
        """
        fetch: Fetch | None = None
        fetched: list[Validators | None] = []
        self.stats["plans"] += 1
        try:
            fetch = next(plan)
            while True:
                try:
                    got = await self.client.get(fetch, None if fetched else revalidate)
                except (Missing, UpstreamError) as failed:
                    # The plan decides: a 404 is often an answer, and a secondary document can be optional.
                    fetched.append(None)
                    fetch = plan.throw(failed)
                else:
                    fetched.append(got.validators)
                    fetch = plan.send(got.data)
        except StopIteration as stop:
            return stop.value, fetched[0] if len(fetched) == 1 else None
        except Missing as missing:
            # The one place a 404 becomes "not found": only for the document whose absence decides it.
            if missing.fetch.absent is not None:
                raise missing.fetch.absent from None
            # A document the registry itself pointed to (a Simple API page, a metadata file) is gone.
            raise UpstreamStatus(
                missing.fetch.service,
                missing.fetch.url,
                missing.status,
                f"it answered HTTP {missing.status} for a document it lists itself",
            ) from None
        except BadDocument as exc:
            # Before any fetch, the plan refused to build a URL from upstream data it was handed.
            service, url = (fetch.service, fetch.url) if fetch is not None else ("The registry", "")
            raise InvalidResponse(service, url, str(exc)) from None
        finally:
            plan.close()

    async def cached(
        self, key: str, ttl: float | Callable[[T], float], make_plan: Callable[[], Plan[T]]
    ) -> tuple[T, list[str]]:
        """The cache-then-fetch template: fresh entry, else one shared fetch (revalidated when possible).

        One fetch per key at a time in this process (a single-flight table), and, when replicas share a
        cache server, one among them (the cache's `lead`). A not-found answer is cached too, briefly
        (`TTL_NOT_FOUND`): an agent repeating a guessed name does not ask the upstream each time.
        """
        entry = await self.cache.get(key)
        if entry is not None and entry.fresh:
            return _answer(entry)
        flight = self._inflight.get(key)
        if flight is not None:
            await flight.done.wait()
            if flight.abandoned:
                return await self.cached(key, ttl, make_plan)
            if flight.error is not None:
                raise flight.error
            return flight.value, list(flight.notes)
        flight = self._inflight[key] = _Flight()
        try:
            flight.value, flight.notes = await self._lead(key, entry, ttl, make_plan)
            return flight.value, list(flight.notes)
        except Exception as exc:
            # The upstream's (or the plan's) answer: every waiter gets the same error.
            flight.error = exc
            raise
        except BaseException:
            # Cancellation or shutdown: the leader gave up, not the upstream. Re-raising its cancellation
            # in a waiter would silently cancel that waiter too, so waiters fetch for themselves.
            flight.abandoned = True
            raise
        finally:
            flight.done.set()
            del self._inflight[key]

    async def _lead(
        self,
        key: str,
        entry: Entry | None,
        ttl: float | Callable[[T], float],
        make_plan: Callable[[], Plan[T]],
    ) -> tuple[T, list[str]]:
        """Fetch, unless another replica sharing the cache already is: then its answer, once stored."""
        lead = await self.cache.lead(key)
        try:
            if not lead.granted:
                shared = await lead.follow()
                if shared is not None and shared.fresh:
                    return _answer(shared)
                # The leader failed or went away: fetch here (revalidating what the cache holds now).
                entry = shared or entry
            # An expired answer to revalidate or to serve if the upstream fails; never an expired not-found.
            stale = entry if entry is not None and not isinstance(entry.value, Absent) else None
            try:
                (value, validators), notes = await self._fetch(key, stale, make_plan)
            except NotFound as exc:
                await self.cache.set(key, Absent(exc), TTL_NOT_FOUND)
                raise
            if not notes:  # a stale answer served in an outage is not stored again as fresh
                await self.cache.set(key, value, ttl(value) if callable(ttl) else ttl, validators)
            return value, notes
        finally:
            if lead.granted:
                await lead.release()

    async def _fetch(
        self, key: str, stale: Entry | None, make_plan: Callable[[], Plan[T]]
    ) -> tuple[tuple[T, Validators | None], list[str]]:
        """Run the plan (conditionally, given an expired entry); on upstream failure, that entry with a note."""
        try:
            return await self.run(make_plan(), stale.validators if stale else None), []
        except NotModified:
            assert stale is not None
            return (stale.value, stale.validators), []
        except UpstreamError as exc:
            if stale is None:
                if self.cache_enabled:
                    exc.served_stale = False
                raise
            exc.served_stale = True
            log.warning("serving a stale answer for %s: %s", key, exc.message)
            note = f"served from cache ({_age(stale.age)} old) because {exc.service} failed: {exc.what}"
            return (stale.value, stale.validators), [note]
