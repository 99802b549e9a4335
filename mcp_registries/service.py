"""The six operations, written once: arguments → cache → plan over HTTP → answer.

Answers are built from two kinds of cached documents: a package's index (one upstream fetch
gives everything `package`, `versions` and `maintainer` need, plus the latest version's
document) and single version documents (`version`, `dependencies`). Concurrent identical cold
requests share one upstream fetch (single-flight); when an upstream fails, an expired entry is
served with a note (stale-if-error).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx

from .budget import file_summary, fit_dependencies, fit_versions, pick_artifacts
from .cache import TTL_DOWNLOADS, TTL_INDEX, TTL_NOT_FOUND, TTL_PARTIAL, Cache, Entry, open_cache
from .errors import (
    InvalidArgument,
    InvalidResponse,
    NoPublishedVersions,
    NotFound,
    UpstreamError,
    UpstreamStatus,
    VersionNotFound,
    shown,
)
from .http import HttpClient, NotModified, Validators
from .models import (
    Artifact,
    DependenciesResult,
    DownloadsResult,
    MaintainerResult,
    Operation,
    PackageResult,
    Person,
    Result,
    VersionResult,
    VersionsResult,
)
from .operations import DEFAULT_PERIOD, Query, parse_arguments
from .registries.base import (
    BadDocument,
    Fetch,
    IndexBundle,
    Missing,
    PackageIndex,
    Plan,
    Registry,
    VersionDoc,
)
from .registries.npm import Npm
from .registries.pypi import PyPI
from .settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_PACKAGE_FIELDS = set(PackageResult.model_fields) - {"versions_count", "notes"}
#: A package overview names a few maintainers; the `maintainer` tool lists them all.
PACKAGE_MAINTAINERS = 5


@dataclass(eq=False)
class _Flight:
    done: anyio.Event = field(default_factory=anyio.Event)
    value: Any = None
    notes: list[str] = field(default_factory=list)
    error: BaseException | None = None
    #: The leading caller was cancelled (it gave up, not the upstream): waiters fetch for themselves.
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class _Absent:
    """A cached not-found answer: the error to raise again."""

    error: NotFound


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: Cache | None = None,
        backoff: float = 0.25,
    ) -> None:
        self.settings = settings
        self.http = HttpClient(settings, transport=transport, backoff=backoff)
        self.cache = (
            cache
            if cache is not None
            else open_cache(
                settings.cache_dir, enabled=settings.cache_enabled, size_limit=settings.cache_size_limit
            )
        )
        adapters: tuple[Registry, ...] = (
            Npm(settings.npm_url, settings.npm_downloads_url),
            PyPI(settings.pypi_url, settings.pypistats_url),
        )
        self.registries: dict[str, Registry] = {adapter.name: adapter for adapter in adapters}
        self._inflight: dict[str, _Flight] = {}
        #: Plans run (each an upstream fetch and parse): the benchmarks' and tests' proof of warm hits.
        self.stats: Counter[str] = Counter()
        #: Calls being answered now: a graceful stop lets them finish first.
        self.active = 0
        self._handlers: dict[Operation, Callable[[Registry, str, Query], Awaitable[Result]]] = {
            Operation.PACKAGE: self._package,
            Operation.VERSIONS: self._versions,
            Operation.VERSION: self._version,
            Operation.DEPENDENCIES: self._dependencies,
            Operation.DOWNLOADS: self._downloads,
            Operation.MAINTAINER: self._maintainer,
        }

    async def aclose(self) -> None:
        await self.http.aclose()
        self.cache.close()

    async def call(self, operation: Operation | str, arguments: dict[str, Any]) -> Result:
        """Answer one operation; raises a RegistryError subclass whose message is the sentence to show."""
        self.active += 1
        try:
            return await self._call(operation, arguments)
        finally:
            self.active -= 1

    async def _call(self, operation: Operation | str, arguments: dict[str, Any]) -> Result:
        query = parse_arguments(operation, arguments)
        registry = self.registries[query.registry]
        name = registry.check_name(query.name)
        if query.version is not None:
            query = Query(**{**_fields(query), "version": registry.check_version(query.version)})
        result = await self._handlers[query.operation](registry, name, query)
        if query.notes:
            result = result.model_copy(update={"notes": [*result.notes, *query.notes]})
        return result

    # -- the cache-then-fetch template -------------------------------------------------------

    async def _run(self, plan: Plan[T], revalidate: Validators | None = None) -> tuple[T, Validators | None]:
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
                    got = await self.http.get(fetch, None if fetched else revalidate)
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

    async def _cached(
        self, key: str, ttl: float | Callable[[T], float], make_plan: Callable[[], Plan[T]]
    ) -> tuple[T, list[str]]:
        """The cache-then-fetch template: fresh entry, else one shared fetch (revalidated when possible).

        A not-found answer is cached too, briefly (`TTL_NOT_FOUND`): an agent repeating a guessed name
        does not ask the upstream each time.
        """
        entry = await self.cache.get(key)
        if entry is not None and entry.fresh:
            if isinstance(entry.value, _Absent):
                raise copy.copy(entry.value.error)
            return entry.value, []
        flight = self._inflight.get(key)
        if flight is not None:
            await flight.done.wait()
            if flight.abandoned:
                return await self._cached(key, ttl, make_plan)
            if flight.error is not None:
                raise flight.error
            return flight.value, list(flight.notes)
        flight = self._inflight[key] = _Flight()
        # An expired answer to revalidate or to serve if the upstream fails; never an expired not-found.
        stale = entry if entry is not None and not isinstance(entry.value, _Absent) else None
        try:
            (value, validators), notes = await self._fetch(key, stale, make_plan)
            if not notes:  # a stale answer served in an outage is not stored again as fresh
                await self.cache.set(key, value, ttl(value) if callable(ttl) else ttl, validators)
            flight.value, flight.notes = value, notes
            return value, list(notes)
        except NotFound as exc:
            await self.cache.set(key, _Absent(exc), TTL_NOT_FOUND)
            flight.error = exc
            raise
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

    async def _fetch(
        self, key: str, stale: Entry | None, make_plan: Callable[[], Plan[T]]
    ) -> tuple[tuple[T, Validators | None], list[str]]:
        """Run the plan (conditionally, given an expired entry); on upstream failure, that entry with a note."""
        try:
            return await self._run(make_plan(), stale.validators if stale else None), []
        except NotModified:
            assert stale is not None
            return (stale.value, stale.validators), []
        except UpstreamError as exc:
            if stale is None:
                if self.settings.cache_enabled:
                    exc.served_stale = False
                raise
            exc.served_stale = True
            log.warning("serving a stale answer for %s: %s", key, exc.message)
            note = f"served from cache ({_age(stale.age)} old) because {exc.service} failed: {exc.what}"
            return (stale.value, stale.validators), [note]

    def _key(self, kind: str, registry: Registry, name: str, *rest: str) -> str:
        return "|".join((kind, registry.name, registry.origin, name, *rest))

    async def _index(self, registry: Registry, name: str) -> tuple[IndexBundle, list[str]]:
        return await self._cached(self._key("index", registry, name), TTL_INDEX, lambda: registry.index(name))

    async def _version_doc(self, registry: Registry, name: str, version: str) -> tuple[VersionDoc, list[str]]:
        return await self._cached(
            self._key("version", registry, name, version),
            lambda doc: TTL_PARTIAL if doc.partial else registry.version_ttl,
            lambda: registry.version_doc(name, version),
        )

    async def _published(self, registry: Registry, name: str) -> tuple[IndexBundle, list[str]]:
        """The index of a package that has at least one version (npm's tombstone and empty documents have none)."""
        bundle, notes = await self._index(registry, name)
        if not bundle.index.version_order:
            raise NoPublishedVersions(registry.name, bundle.index.name, unpublished=bundle.index.unpublished)
        return bundle, notes

    async def _resolve(
        self, registry: Registry, name: str, requested: str | None
    ) -> tuple[IndexBundle, str, list[str]]:
        bundle, notes = await self._published(registry, name)
        index = bundle.index
        if requested is None:
            if index.latest_version is None:
                raise VersionNotFound(registry.name, index.name, "latest")
            return bundle, index.latest_version, notes
        resolved = registry.resolve(index, requested)
        if resolved is None:
            raise VersionNotFound(
                registry.name,
                index.name,
                requested,
                latest=index.latest_version,
                nearby=registry.nearby(index, requested),
            )
        return bundle, resolved, notes

    async def _doc_for(
        self, registry: Registry, bundle: IndexBundle, name: str, version: str
    ) -> tuple[VersionDoc, list[str]]:
        if version in bundle.versions:
            return bundle.versions[version], []
        try:
            return await self._version_doc(registry, name, version)
        except VersionNotFound:
            raise VersionNotFound(
                registry.name, bundle.index.name, version, latest=bundle.index.latest_version
            ) from None

    # -- the six operations --------------------------------------------------------------

    async def _package(self, registry: Registry, name: str, query: Query) -> PackageResult:
        bundle, notes = await self._published(registry, name)
        index = bundle.index
        fields = {k: v for k, v in index if k in _PACKAGE_FIELDS}
        people, _, caveats = _people(index)
        fields["maintainers"] = people[:PACKAGE_MAINTAINERS]
        if len(people) > PACKAGE_MAINTAINERS:
            caveats.append(f"{len(people)} maintainers; the maintainer tool lists them all")
        return PackageResult(
            **fields,
            versions_count=len(index.version_order),
            notes=[*index.notes, *index.unknowns, *caveats, *notes],
        )

    async def _versions(self, registry: Registry, name: str, query: Query) -> VersionsResult:
        return fit_versions(await self._page(registry, name, query), asked="page_size" in query.given)

    async def _page(self, registry: Registry, name: str, query: Query) -> VersionsResult:
        bundle, notes = await self._index(registry, name)
        index = bundle.index
        total = len(index.version_order)
        if not total:
            notes = [NoPublishedVersions(registry.name, index.name, unpublished=index.unpublished).message]
        start = (query.page - 1) * query.page_size
        return VersionsResult(
            registry=index.registry,
            name=index.name,
            latest_version=index.latest_version,
            total=total,
            page=query.page,
            page_size=query.page_size,
            pages=math.ceil(total / query.page_size),
            has_more=start + query.page_size < total,
            # A list needs the day; `version` gives the full timestamp. Keeps a 50-entry page near 4 KB.
            versions=[
                entry.model_copy(update={"released": entry.released[:10]}) if entry.released else entry
                for entry in index.entries(start, start + query.page_size)
            ],
            notes=[*index.unknowns, *notes],
        )

    async def _version(self, registry: Registry, name: str, query: Query) -> VersionResult:
        assert query.version is not None
        requested = query.version
        early: list[tuple[VersionDoc, list[str]]] = []

        async def direct() -> None:
            with contextlib.suppress(VersionNotFound):
                early.append(await self._version_doc(registry, name, requested))

        resolved: list[tuple[IndexBundle, str, list[str]]] = []

        async def resolve() -> None:
            resolved.append(await self._resolve(registry, name, requested))

        if registry.is_exact(requested):
            # Dates and tags live in the index, the rest in the version's own small document: both at once.
            await _together(resolve, direct)
        else:
            await resolve()
        bundle, version, notes = resolved[0]
        if early and early[0][0].version == version:
            doc, doc_notes = early[0]
        else:
            doc, doc_notes = await self._doc_for(registry, bundle, name, version)
        index = bundle.index
        entry = index.entry(version)
        yanked = doc.yanked if doc.yanked is not None else entry.yanked
        artifacts, file_notes = _files(doc.artifacts, query)
        return VersionResult(
            registry=index.registry,
            name=index.name,
            version=version,
            released=entry.released or doc.released,
            prerelease=entry.prerelease,
            is_latest=version == index.latest_version,
            tags=entry.tags,
            summary=doc.summary,
            license=doc.license,
            homepage=doc.homepage,
            repository=doc.repository,
            author=doc.author,
            deprecated=doc.deprecated or entry.deprecated,
            yanked=yanked,
            yanked_reason=(doc.yanked_reason or entry.yanked_reason) if yanked else None,
            engines=doc.engines,
            dependencies_count=len(doc.runtime),
            files=file_summary(doc.artifacts),
            artifacts=artifacts,
            vulnerabilities=doc.vulnerabilities,
            notes=[*doc.notes, *index.unknowns, *notes, *doc_notes, *file_notes],
        )

    async def _dependencies(self, registry: Registry, name: str, query: Query) -> DependenciesResult:
        doc: VersionDoc | None = None
        notes: list[str] = []
        if query.version is not None and registry.is_exact(query.version):
            # An exact npm version has its own small document: no need for the whole packument.
            try:
                doc, notes = await self._version_doc(registry, name, query.version)
            except VersionNotFound:
                doc = None
        if doc is None:
            bundle, version, notes = await self._resolve(registry, name, query.version)
            doc, doc_notes = await self._doc_for(registry, bundle, name, version)
            notes += doc_notes
            display = bundle.index.name
        else:
            display = doc.name or name
        if query.extra is not None and query.extra not in doc.extras:
            raise _unknown_extra(display, doc, query.extra)
        result = DependenciesResult(
            registry=doc.registry,
            name=display,
            version=doc.version,
            runtime=doc.runtime,
            dev=doc.dev,
            peer=doc.peer,
            optional=doc.optional,
            extras=dict(doc.extras),
            dev_extras=doc.dev_extras,
            notes=[*doc.dependency_notes, *notes],
        )
        return fit_dependencies(result, group=query.group, extra=query.extra)

    async def _downloads(self, registry: Registry, name: str, query: Query) -> DownloadsResult:
        window = query.period if registry.download_periods else "recent"
        counted: list[tuple[DownloadsResult, list[str]]] = []
        indexed: list[tuple[IndexBundle, list[str]]] = []

        async def counts() -> None:
            counted.append(
                await self._cached(
                    self._key("downloads", registry, name, window),
                    TTL_DOWNLOADS,
                    lambda: registry.downloads(name, query.period),
                )
            )

        async def index() -> None:
            indexed.append(await self._index(registry, name))

        if registry.normalizes_names:
            # The counts service knows only normalized names; the index gives the display name and a real 404.
            await _together(counts, index)
        else:
            await counts()
        result, notes = counted[0]
        if indexed:
            result = result.model_copy(update={"name": indexed[0][0].index.name})
        if not registry.download_periods and query.period != DEFAULT_PERIOD:
            # Not part of the cached counts: the same counts answer every period asked.
            notes = [*notes, f"the period '{query.period}' applies to npm only and was ignored"]
        return result.model_copy(update={"notes": [*result.notes, *notes]})

    async def _maintainer(self, registry: Registry, name: str, query: Query) -> MaintainerResult:
        bundle, notes = await self._published(registry, name)
        index = bundle.index
        people, source, caveats = _people(index)
        return MaintainerResult(
            registry=index.registry,
            name=index.name,
            maintainers=people,
            author=index.author,
            publisher=index.publisher,
            organization=index.organization,
            source=source,
            notes=[*caveats, *notes],
        )


def _people(index: PackageIndex) -> tuple[list[Person], str, list[str]]:
    """Who maintains a package, for `package` and `maintainer` alike: the registry's accounts, or the people
    the package's own metadata names when the registry (or its mirror) lists none."""
    if index.maintainers:
        return index.maintainers, "registry accounts", []
    named = (
        "these are the people the package metadata names"
        if index.declared
        else "nor does the package metadata name any"
    )
    note = f"no maintainer accounts are published by this registry (or its mirror); {named}"
    return index.declared, "declared in package metadata", [note]


async def _together(*calls: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run calls concurrently; re-raise the first failure as itself, not as an ExceptionGroup."""
    try:
        async with anyio.create_task_group() as group:
            for call in calls:
                group.start_soon(call)
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


def _files(artifacts: list[Artifact], query: Query) -> tuple[list[Artifact], list[str]]:
    """The files a `version` answer lists: a few by default, a page of every one with files='all'."""
    total = len(artifacts)
    if query.files == "all":
        start = (query.page - 1) * query.page_size
        shown = artifacts[start : start + query.page_size]
        pages = math.ceil(total / query.page_size)
        if pages <= 1 and query.page == 1:
            return shown, []
        more = f"; page={query.page + 1} for more" if start + query.page_size < total else ""
        span = f"{start + 1}–{start + len(shown)}" if shown else "none"
        return shown, [f"files {span} of {total} (page {query.page} of {pages}){more}"]
    picked = pick_artifacts(artifacts)
    if len(picked) == total:
        return picked, []
    return picked, [
        f"{total} files; artifacts lists {len(picked)} (the sdist and the most general wheels); files='all' lists every one"
    ]


def _unknown_extra(name: str, doc: VersionDoc, extra: str) -> InvalidArgument:
    known = ", ".join(list(doc.extras)[:20]) or "none"
    return InvalidArgument(
        "extra", f"{shown(extra)} is not an extra of {name} {doc.version}; its extras: {known}."
    )


def _fields(query: Query) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__slots__}
