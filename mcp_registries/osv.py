"""Known vulnerabilities from OSV (https://osv.dev): one `POST /v1/querybatch` for many package versions,
then each advisory's details from `GET /v1/vulns/<id>`, cached for a day.

Written for OSV's documented API (google/osv.dev `docs/api/post-v1-querybatch.md`, `get-v1-vulns.md`, and
its OpenAPI file) and record format (ossf/osv-schema `docs/schema.md`): a batch answers each query with
advisory ids only (`{"id", "modified"}`), in the order asked, at most 1,000 queries a batch, a query's
further pages asked again with its `next_page_token`. The details of an advisory are the record itself.

What OSV says is unknown when it cannot be asked (turned off, unreachable, failing): `vulnerabilities` is
then None with a note, never an empty "none".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict

from .errors import InvalidResponse, UpstreamError, UpstreamStatus
from .fetching import BadDocument, Engine, Fetch, Missing, Plan
from .models import RegistryName, Vulnerability
from .registries.base import url_under
from .registries.common import text
from .registries.versioning import pep440_key, semver_key
from .settings import Settings

log = logging.getLogger(__name__)

SERVICE = "OSV"
#: OSV's ecosystem names.
ECOSYSTEMS: dict[RegistryName, str] = {"npm": "npm", "pypi": "PyPI"}
#: Queries in one querybatch: OSV's OpenAPI description allows "a maximum of 1000 package versions".
BATCH = 1000
#: Rounds of page tokens followed for one batch; OSV pages a query past ~1,000 advisories, so a round
#: more is already rare.
PAGES = 10
#: Detail requests in flight for one lookup.
IN_FLIGHT = 16
#: An advisory's record changes rarely once published.
TTL_RECORD = 24 * 3600.0
#: Which advisories affect a version changes whenever one is published: batch answers are kept briefly,
#: so an agent asking again within minutes (an audit, then the version tool) is answered from the cache.
TTL_BATCH = 600.0
#: Characters of an advisory's summary (the schema recommends summaries of about 120).
SUMMARY = 120
#: How every note that leaves vulnerabilities unknown begins.
UNKNOWN = "vulnerabilities unknown: "
OFF = UNKNOWN + "OSV is turned off here by MCP_REGISTRIES_OSV=off"

#: Ranges whose `fixed` events are versions of the package (GIT ranges give commits).
_VERSION_RANGES = frozenset({"SEMVER", "ECOSYSTEM"})
#: Record severity types by preference: CVSS 4, then 3, then 2 vectors.
_CVSS = ("CVSS_V4", "CVSS_V3", "CVSS_V2")
#: How OSV names a package of each ecosystem: PyPI names compare PEP 503-normalized (the schema says
#: records use normalized names; databases still write the display spelling).
_NAME_KEY: dict[str, Callable[[str], str]] = {"npm": str, "PyPI": lambda name: canonicalize_name(name)}


def _pep440_order(version: str) -> str | None:
    found = pep440_key(version)
    return found[0] if found else None


def _semver_order(version: str) -> str | None:
    key = semver_key(version)
    return None if key.startswith("\x00") else key


#: Version order by ecosystem; None for a version the ecosystem's grammar rejects.
_ORDER: dict[str, Callable[[str], str | None]] = {"npm": _semver_order, "PyPI": _pep440_order}


@dataclass(frozen=True, slots=True)
class Asked:
    registry: RegistryName
    #: The registry's name for the package (npm: as is; PyPI: the display or normalized name).
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Found:
    #: Per asked package version: its vulnerabilities ([] when OSV knows none). None: OSV could not be asked
    #: (turned off, unreachable, failing): unknown, never "none".
    vulnerabilities: dict[Asked, list[Vulnerability]] | None
    notes: list[str]


# -- what is cached: OSV's documents, reduced to what answers need -------------------------------------


class _Cached(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Batch(_Cached):
    """A querybatch's answer: the advisory ids of each query, in the order asked."""

    ids: list[list[str]]
    #: Queries whose pages were not all read (more than `PAGES` rounds).
    unfinished: int = 0


class Affects(_Cached):
    """What a record says of one package: the versions that fix it, its own severity."""

    fixed: list[str] = []
    cvss: str | None = None
    rating: str | None = None


class Advisory(_Cached):
    id: str
    aliases: list[str] = []
    summary: str | None = None
    #: The record's CVSS vector (4, else 3, else 2) and its database's own rating (GitHub's `HIGH`, ...).
    cvss: str | None = None
    rating: str | None = None
    withdrawn: bool = False
    #: "<ecosystem>|<name key>" → what the record says of that package (npm and PyPI packages only).
    packages: dict[str, Affects] = {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _package_key(ecosystem: str, name: str) -> str | None:
    normalize = _NAME_KEY.get(ecosystem)
    return None if normalize is None else f"{ecosystem}|{normalize(name)}"


def _cvss(severities: Any) -> str | None:
    if not isinstance(severities, list):
        return None
    scores = {s.get("type"): s.get("score") for s in severities if isinstance(s, dict)}
    return next((text(scores[t], 200) for t in _CVSS if isinstance(scores.get(t), str)), None)


def _rating(*blocks: Any) -> str | None:
    """The first `severity` string of the given database- or ecosystem-specific blocks."""
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("severity"), str):
            return text(block["severity"], 40)
    return None


def _summary(record: dict[str, Any]) -> str | None:
    summary = text(record.get("summary"), SUMMARY)
    if summary is not None or not isinstance(record.get("details"), str):
        return summary
    # `details` is CommonMark: its first line of prose, not a heading such as GitHub's "### Impact".
    lines = (line.strip() for line in record["details"].splitlines())
    return next((text(line, SUMMARY) for line in lines if line and not line.startswith("#")), None)


def read_advisory(data: Any) -> Advisory:
    """An OSV record (`GET /v1/vulns/<id>`) reduced to what answers need."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise BadDocument("an OSV record without an id")
    packages: dict[str, Affects] = {}
    for affected in _list(data.get("affected")):
        package = affected.get("package") if isinstance(affected, dict) else None
        if not isinstance(package, dict):
            continue
        ecosystem, name = package.get("ecosystem"), package.get("name")
        key = _package_key(ecosystem, name) if isinstance(ecosystem, str) and isinstance(name, str) else None
        if key is None:
            continue
        fixed = [
            event["fixed"]
            for span in _list(affected.get("ranges"))
            if isinstance(span, dict) and span.get("type") in _VERSION_RANGES
            for event in _list(span.get("events"))
            if isinstance(event, dict) and isinstance(event.get("fixed"), str)
        ]
        seen = packages.get(key, Affects())
        # A package may be listed in several entries (one per range): what they say adds up.
        packages[key] = Affects(
            fixed=[*seen.fixed, *fixed],
            cvss=seen.cvss or _cvss(affected.get("severity")),
            rating=seen.rating
            or _rating(affected.get("database_specific"), affected.get("ecosystem_specific")),
        )
    return Advisory(
        id=data["id"],
        aliases=[a for a in _list(data.get("aliases")) if isinstance(a, str)],
        summary=_summary(data),
        cvss=_cvss(data.get("severity")),
        rating=_rating(data.get("database_specific")),
        withdrawn=bool(data.get("withdrawn")),
        packages=packages,
    )


def read_results(data: Any, asked: int) -> list[dict[str, Any]]:
    """A querybatch answer's `results`, one per query asked, in the order asked."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != asked:
        count = len(results) if isinstance(results, list) else "no"
        raise BadDocument(f"{count} results for {asked} queries")
    return [r if isinstance(r, dict) else {} for r in results]


def result_ids(result: dict[str, Any]) -> list[str]:
    # A query with no advisory is answered `{}`: no `vulns` at all.
    return [
        v["id"]
        for v in _list(result.get("vulns"))
        if isinstance(v, dict) and isinstance(v.get("id"), str) and v["id"]
    ]


# -- the client ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Query:
    ecosystem: str
    name: str
    version: str

    def json(self, page_token: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {
            "package": {"name": self.name, "ecosystem": self.ecosystem},
            "version": self.version,
        }
        return {**query, "page_token": page_token} if page_token else query


def _query(asked: Asked) -> _Query:
    ecosystem = ECOSYSTEMS[asked.registry]
    name = _NAME_KEY[ecosystem](asked.name)
    return _Query(ecosystem, name, asked.version)


class Osv:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.base = settings.osv_url
        self.enabled = settings.osv_enabled

    async def lookup(self, asked: list[Asked]) -> Found:
        """Every asked version's vulnerabilities: querybatch (chunks of 1,000, page tokens followed), then
        the details of each advisory id concurrently (cached a day); at most 16 requests in flight."""
        if not self.enabled:
            return Found(None, [OFF])
        queries = list(dict.fromkeys(_query(a) for a in asked))
        if not queries:
            return Found({}, [])
        digest = hashlib.sha256(json.dumps([q.json(None) for q in queries]).encode()).hexdigest()
        try:
            batch, notes = await self.engine.cached(
                f"osv-batch|{self.base}|{digest}", TTL_BATCH, lambda: self._batch(queries)
            )
        except UpstreamError as exc:
            log.info("OSV could not be asked: %s", exc.message)
            return Found(None, [UNKNOWN + _why(exc)])
        by_query = dict(zip(queries, batch.ids, strict=True))
        ids = list(dict.fromkeys(i for found in batch.ids for i in found))
        records, detail_notes = await self._advisories(ids)
        if batch.unfinished:
            notes.append(
                f"OSV lists more advisories for {batch.unfinished} of these package versions than were read "
                f"({PAGES} pages); the list may be incomplete"
            )
        vulnerabilities: dict[Asked, list[Vulnerability]] = {}
        for one in asked:
            query = _query(one)
            key = _package_key(query.ecosystem, query.name)
            vulnerabilities[one] = _listed(by_query[query], records, key, _ORDER[query.ecosystem])
        return Found(vulnerabilities, [*notes, *detail_notes])

    def _batch(self, queries: list[_Query]) -> Plan[Batch]:
        url = self.base + "v1/querybatch"
        ids: list[list[str]] = [[] for _ in queries]
        unfinished = 0
        for start in range(0, len(queries), BATCH):
            tokens: dict[int, str | None] = dict.fromkeys(range(start, min(start + BATCH, len(queries))))
            for _ in range(PAGES):
                payload = {"queries": [queries[i].json(token) for i, token in tokens.items()]}
                try:
                    data = yield Fetch(url, SERVICE, payload=json.dumps(payload).encode())
                except Missing as missing:
                    # The endpoint itself is missing (a proxy without it): no answer to the question.
                    raise UpstreamStatus(SERVICE, url, missing.status) from None
                following: dict[int, str | None] = {}
                for i, result in zip(tokens, read_results(data, len(tokens)), strict=True):
                    ids[i] += result_ids(result)
                    token = result.get("next_page_token")
                    if isinstance(token, str) and token:
                        following[i] = token
                tokens = following
                if not tokens:
                    break
            unfinished += len(tokens)
        return Batch(ids=[list(dict.fromkeys(found)) for found in ids], unfinished=unfinished)

    def _record(self, advisory: str) -> Plan[Advisory]:
        try:
            url = url_under(self.base, "v1", "vulns", advisory)
        except BadDocument as exc:
            raise InvalidResponse(SERVICE, self.base + "v1/querybatch", str(exc)) from None
        return read_advisory((yield Fetch(url, SERVICE)))

    async def _advisories(self, ids: list[str]) -> tuple[dict[str, Advisory], list[str]]:
        """The records of `ids` (cached a day), at most IN_FLIGHT fetched at once; the ones that failed are
        left out, and a note says so once."""
        limiter = anyio.CapacityLimiter(IN_FLIGHT)
        records: dict[str, Advisory] = {}
        failed: list[UpstreamError] = []
        stale: list[str] = []

        async def one(advisory: str) -> None:
            async with limiter:
                try:
                    record, notes = await self.engine.cached(
                        f"osv|{self.base}|{advisory}", TTL_RECORD, lambda: self._record(advisory)
                    )
                except UpstreamError as exc:
                    failed.append(exc)
                    return
            records[advisory] = record
            stale.extend(notes[:1])

        async with anyio.create_task_group() as group:
            for advisory in ids:
                group.start_soon(one, advisory)
        notes = []
        if failed:
            log.info("OSV details failed for %d advisories: %s", len(failed), failed[0].message)
            notes.append(
                f"details of {_count(len(failed), 'advisory', 'advisories')} could not be read "
                f"({_why(failed[0])}); listed by id only"
            )
        if stale:
            notes.append(f"details of {_count(len(stale), 'advisory', 'advisories')} {stale[0]}")
        return records, notes


def _listed(
    ids: Iterable[str], records: dict[str, Advisory], package: str | None, order: Callable[[str], str | None]
) -> list[Vulnerability]:
    found = []
    for advisory in ids:
        record = records.get(advisory)
        if record is None:
            # Its details failed: the id is what OSV said, and still worth knowing.
            found.append(Vulnerability(id=advisory))
            continue
        if record.withdrawn:
            continue
        affects = record.packages.get(package or "", Affects())
        found.append(
            Vulnerability(
                id=advisory,
                aliases=record.aliases,
                summary=record.summary,
                severity=record.cvss or affects.cvss or record.rating or affects.rating,
                fixed=_in_order(affects.fixed, order),
            )
        )
    return found


def _in_order(versions: Iterable[str], order: Callable[[str], str | None]) -> list[str]:
    """Distinct versions, lowest first; ones the ecosystem's grammar rejects last, as written."""
    keyed = [(order(v), v) for v in dict.fromkeys(versions)]
    return [v for k, v in sorted(keyed, key=lambda kv: (kv[0] is None, kv[0] or kv[1]))]


def _why(error: UpstreamError) -> str:
    why = f"{error.service} failed: {error.what}"
    return f"{why}; {error.next_try}" if error.next_try else why


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def listing(asked: Asked) -> str:
    """osv.dev's page of every advisory of the package (its list view, searched by name)."""
    return f"https://osv.dev/list?ecosystem={ECOSYSTEMS[asked.registry]}&q={quote(asked.name, safe='@/')}"


def for_version(
    found: Found, asked: Asked, own: list[Vulnerability] | None
) -> tuple[list[Vulnerability] | None, list[str]]:
    """One version's vulnerabilities: OSV's answer; when OSV could not be asked, the registry's own list
    (PyPI's JSON API gives one) with a note saying so; else None with OSV's note."""
    if found.vulnerabilities is not None:
        return found.vulnerabilities.get(asked, []), found.notes
    if own is None:
        return None, found.notes
    reasons = [n.removeprefix(UNKNOWN) for n in found.notes if n.startswith(UNKNOWN)]
    others = [n for n in found.notes if not n.startswith(UNKNOWN)]
    why = f" ({reasons[0]})" if reasons else ""
    return own, [f"vulnerabilities are the registry's own list: OSV could not be asked{why}", *others]
