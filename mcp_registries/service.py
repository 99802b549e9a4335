"""The six operations, written once: arguments → cache → plan over HTTP → answer.

Answers are built from two kinds of cached documents: a package's index (one upstream fetch
gives everything `package`, `versions` and `maintainer` need, plus the latest version's
document) and single version documents (`version`, `dependencies`). Concurrent identical cold
requests share one upstream fetch (single-flight); when an upstream fails, an expired entry is
served with a note (stale-if-error).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import httpx

from .audit import Auditor
from .budget import file_summary, fit_dependencies, fit_files, fit_versions, fit_vulnerabilities
from .cache import TTL_DOWNLOADS, TTL_INDEX, TTL_PARTIAL, Cache, MemoryFront, open_cache
from .clock import Clock
from .errors import (
    InternalError,
    InvalidArgument,
    NoPublishedVersions,
    PackageNotFound,
    RegistryError,
    VersionNotFound,
    shown,
)
from .fetching import Engine
from .http import HttpClient
from .models import (
    DependenciesResult,
    DownloadsResult,
    MaintainerResult,
    Operation,
    PackageResult,
    Person,
    Result,
    TreeResult,
    VersionResult,
    VersionsResult,
)
from .operations import DEFAULT_PERIOD, Query, parse_arguments
from .osv import Asked, Found, Osv, for_version, listing
from .registries.base import (
    IndexBundle,
    PackageIndex,
    Registry,
    VersionDoc,
)
from .registries.npm import Npm
from .registries.pypi import PyPI
from .registries.pypi_simple import NOTE_NO_VULNERABILITIES
from .search import Searcher
from .settings import Settings
from .shared import RedisCache
from .tree import tree_result
from .tree_npm import resolve_npm
from .tree_pypi import resolve_pypi

log = logging.getLogger(__name__)

T = TypeVar("T")

_PACKAGE_FIELDS = set(PackageResult.model_fields) - {"versions_count", "notes"}
#: A package overview names a few maintainers; the `maintainer` tool lists them all.
PACKAGE_MAINTAINERS = 5


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: Cache | None = None,
        backoff: float = 0.25,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.http = HttpClient(settings, transport=transport, backoff=backoff, clock=clock)
        self.cache = cache if cache is not None else _open_cache(settings)
        npm = Npm(settings.npm_url, settings.npm_downloads_url)
        pypi = PyPI(settings.pypi_url, settings.pypistats_url)
        self.registries: dict[str, Registry] = {npm.name: npm, pypi.name: pypi}
        self.engine = Engine(self.http, self.cache, cache_enabled=settings.cache_enabled)
        self.osv = Osv(self.engine, settings)
        self.searcher = Searcher(self.engine, self.cache, npm, pypi, self._details)
        self.auditor = Auditor(self.registries, self._index, self.osv)
        #: Plans run (each an upstream fetch and parse): the benchmarks' and tests' proof of warm hits.
        self.stats = self.engine.stats
        #: Calls being answered now: a graceful stop lets them finish first.
        self.active = 0
        self._handlers: dict[Operation, Callable[[Registry, str, Query], Awaitable[Result]]] = {
            Operation.PACKAGE: self._package,
            Operation.VERSIONS: self._versions,
            Operation.VERSION: self._version,
            Operation.DEPENDENCIES: self._dependencies,
            Operation.DOWNLOADS: self._downloads,
            Operation.MAINTAINER: self._maintainer,
            Operation.SEARCH: lambda registry, _, query: self.searcher.search(registry, query),
            Operation.TREE: self._tree,
        }

    async def aclose(self) -> None:
        await self.searcher.aclose()
        await self.http.aclose()
        await self.cache.flush()
        await self.cache.aclose()

    async def call(self, operation: Operation | str, arguments: dict[str, Any]) -> Result:
        """Answer one operation; raises a RegistryError subclass whose message is the sentence to show."""
        self.active += 1
        try:
            return await self._call(operation, arguments)
        except RegistryError:
            raise
        except Exception as exc:
            # The one boundary where a bug becomes a sentence, for MCP, REST and the CLI alike.
            log.exception("%s failed unexpectedly", str(operation)[:40])
            raise InternalError(str(operation)) from exc
        finally:
            self.active -= 1

    async def _call(self, operation: Operation | str, arguments: dict[str, Any]) -> Result:
        query = parse_arguments(operation, arguments)
        if query.operation is Operation.AUDIT:
            return await self.auditor.audit(query)
        assert query.registry is not None
        registry = self.registries[query.registry]
        name = registry.check_name(query.name) if query.text is None else ""
        if query.version is not None:
            query = Query(**{**_fields(query), "version": registry.check_version(query.version)})
        try:
            result = await self._handlers[query.operation](registry, name, query)
        except PackageNotFound as missing:
            close = await self.searcher.suggest(registry, name)
            if close:
                raise missing.suggesting(close) from None
            raise
        if query.notes:
            result = result.model_copy(update={"notes": [*result.notes, *query.notes]})
        return result

    def _key(self, kind: str, registry: Registry, name: str, *rest: str) -> str:
        return "|".join((kind, registry.name, registry.origin, name, *rest))

    async def _index(self, registry: Registry, name: str) -> tuple[IndexBundle, list[str]]:
        return await self.engine.cached(
            self._key("index", registry, name), TTL_INDEX, lambda: registry.index(name)
        )

    async def _details(self, registry: Registry, name: str) -> PackageIndex:
        """A package's index, for the details of search results (cached like any other)."""
        return (await self._index(registry, name))[0].index

    async def _version_doc(self, registry: Registry, name: str, version: str) -> tuple[VersionDoc, list[str]]:
        return await self.engine.cached(
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

        checked: dict[str, Found] = {}

        async def check(version: str) -> None:
            checked[version] = await self.osv.lookup([Asked(registry.name, name, version)])

        if registry.is_exact(requested):
            # Dates and tags live in the index, the rest in the version's own small document, vulnerabilities
            # in OSV: all at once.
            await _together(resolve, direct, lambda: check(requested))
        else:
            await resolve()
        bundle, version, notes = resolved[0]
        fetched = early if early and early[0][0].version == version else []

        async def document() -> None:
            fetched.append(await self._doc_for(registry, bundle, name, version))

        await _together(
            *([] if fetched else [document]), *([] if version in checked else [lambda: check(version)])
        )
        doc, doc_notes = fetched[0]
        asked = Asked(registry.name, name, version)
        found = checked[version]
        vulnerabilities, vulnerability_notes = for_version(found, asked, doc.vulnerabilities)
        # OSV's answer replaces the registry's own list, and the note that it has none.
        own_notes = [n for n in doc.notes if found.vulnerabilities is None or n != NOTE_NO_VULNERABILITIES]
        index = bundle.index
        entry = index.entry(version)
        yanked = doc.yanked if doc.yanked is not None else entry.yanked
        artifacts, file_notes = fit_files(
            doc.artifacts, all_files=query.files == "all", page=query.page, page_size=query.page_size
        )
        result = VersionResult(
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
            vulnerabilities=vulnerabilities,
            notes=[*own_notes, *index.unknowns, *notes, *doc_notes, *file_notes, *vulnerability_notes],
        )
        return fit_vulnerabilities(result, asked=query.files == "all", listing=listing(asked))

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
                await self.engine.cached(
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

    async def _tree(self, registry: Registry, name: str, query: Query) -> TreeResult:
        bundle, version, notes = await self._resolve(registry, name, query.version)
        lookups = _Lookups(self, registry)
        if registry.name == "npm":
            resolution = await resolve_npm(lookups, bundle.index.name, version)
        else:
            resolution = await resolve_pypi(
                lookups,
                bundle.index.name,
                version,
                extras=query.extras,
                python=query.python,
                platform=query.platform,  # type: ignore[arg-type]
            )
        resolution.notes[:0] = [*notes, *query.notes]
        return tree_result(resolution, query)

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


class _Lookups:
    """A resolver's reads, through the cache every other tool fills (see `resolution.Lookups`)."""

    def __init__(self, service: Service, registry: Registry) -> None:
        self.service, self.registry = service, registry

    async def index(self, name: str) -> PackageIndex:
        # A name from an upstream document passes the same grammar as one a caller typed.
        return (await self.service._index(self.registry, self.registry.check_name(name)))[0].index

    async def manifest(self, name: str, version: str) -> VersionDoc:
        # The latest version's document comes with the index: a mirror without its metadata file still
        # gives its requirements there.
        name = self.registry.check_name(name)
        bundle, _ = await self.service._index(self.registry, name)
        return (await self.service._doc_for(self.registry, bundle, name, version))[0]


def _open_cache(settings: Settings) -> Cache:
    """diskcache, or the cache server replicas share; either way behind this process's memory front."""
    if settings.cache_enabled and settings.cache_url:
        return MemoryFront(RedisCache(settings.cache_url))
    return open_cache(
        settings.cache_dir, enabled=settings.cache_enabled, size_limit=settings.cache_size_limit
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


def _unknown_extra(name: str, doc: VersionDoc, extra: str) -> InvalidArgument:
    known = ", ".join(list(doc.extras)[:20]) or "none"
    return InvalidArgument(
        "extra", f"{shown(extra)} is not an extra of {name} {doc.version}; its extras: {known}."
    )


def _fields(query: Query) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__slots__}
