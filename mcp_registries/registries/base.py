"""The Registry protocol, and the internal documents adapters produce (their plans: `fetching`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, TypedDict
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, SkipValidation, TypeAdapter

from ..fetching import BadDocument, Plan
from ..models import (
    Artifact,
    Dependency,
    DownloadsResult,
    Person,
    RegistryName,
    VersionEntry,
    Vulnerability,
)
from .common import iso_utc

Period = Literal["last-day", "last-week", "last-month", "last-year"]


def segment(value: str) -> str:
    """One user-supplied string as one escaped URL path segment ('/', '?', '#', '..' all inert)."""
    # JSON can carry lone surrogates ("\ud800"), which strict UTF-8 refuses; they are escaped as their bytes.
    escaped = quote(value, safe="@", errors="surrogatepass")
    # '.' and '..' survive quote(), and URL normalizers (WHATWG, some proxies) read even '%2E%2E' as a
    # parent segment: such a segment is never sent. User input cannot get here (the name and version
    # grammars refuse it); a hostile upstream document could.
    if escaped in {".", ".."}:
        raise BadDocument(f"refusing the path segment {value!r}")
    return escaped


def url_under(base: str, *segments: str) -> str:
    """A URL below `base` (which ends in '/'), each segment escaped; trailing '/' kept if the last is ''."""
    return base + "/".join(segment(s) if s else "" for s in segments)


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: Validates a whole version list in one call: ~1 µs an entry, against ~3 µs built one by one.
VERSION_ENTRIES: TypeAdapter[list[VersionEntry]] = TypeAdapter(list[VersionEntry])


class PackageIndex(_Doc):
    """Everything project-level one registry document gives, normalized and small enough to cache."""

    registry: RegistryName
    name: str
    latest_version: str | None
    summary: str | None = None
    license: str | None = None
    homepage: str | None = None
    repository: str | None = None
    keywords: list[str] = []
    author: Person | None = None
    #: Registry accounts (npm maintainers, PyPI owners); empty when the upstream publishes none.
    maintainers: list[Person] = []
    #: People the package's own metadata names (author, maintainers, contributors).
    declared: list[Person] = []
    publisher: Person | None = None
    organization: str | None = None
    created: str | None = None
    latest_release_date: str | None = None
    dist_tags: dict[str, str] = {}
    deprecated: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    engines: dict[str, str] = {}
    dependencies_count: int | None = None
    # The version list as columns, not thousands of objects: a package answer needs only its length,
    # a versions page builds entries for its own slice (see `entries`). The three big columns are
    # built by the parsers from checked strings and are not validated again (9,000 strings: 0.3 ms
    # of a cold call).
    #: Every version, newest first by precedence (SemVer / PEP 440; unparseable ones last).
    version_order: SkipValidation[list[str]] = []
    #: Release timestamps as the upstream wrote them (normalized when an entry is built); may hold
    #: stamps of versions no longer listed (npm's `time`), never looked up.
    released: SkipValidation[dict[str, str]] = {}
    #: A set again when read back from a shared cache's JSON (frozenset() of a frozenset is itself: free).
    prereleases: Annotated[frozenset[str], PlainValidator(frozenset), PlainSerializer(sorted)] = frozenset()
    deprecations: dict[str, str] = {}
    #: Yanked versions and their reason (None when none was given).
    yanks: dict[str, str | None] = {}
    #: PyPI: each version's Requires-Python as its files state it in the index (absent when they state
    #: none or disagree), so a resolver skips versions for another Python without reading their metadata.
    requires_python: SkipValidation[dict[str, str]] = {}
    version_tags: dict[str, list[str]] = {}
    #: When the registry says the package was unpublished (npm's tombstone), and no version is left.
    unpublished: str | None = None
    #: What this upstream does not tell (release dates, deprecations), for every answer built on it.
    unknowns: list[str] = []
    notes: list[str] = []

    def entries(self, start: int = 0, stop: int | None = None) -> list[VersionEntry]:
        """Entries for a slice of `version_order`, built on demand."""
        return VERSION_ENTRIES.validate_python(
            [
                {
                    "version": version,
                    "released": iso_utc(self.released.get(version)),
                    "prerelease": version in self.prereleases,
                    "yanked": version in self.yanks,
                    "yanked_reason": self.yanks.get(version),
                    "deprecated": self.deprecations.get(version),
                    "tags": self.version_tags.get(version, []),
                }
                for version in self.version_order[start:stop]
            ]
        )

    def entry(self, version: str) -> VersionEntry:
        try:
            position = self.version_order.index(version)
        except ValueError:
            return VersionEntry(version=version)
        return self.entries(position, position + 1)[0]


class VersionDoc(_Doc):
    """Everything one version's document gives: feeds both `version` and `dependencies`."""

    registry: RegistryName
    name: str
    version: str
    released: str | None = None
    summary: str | None = None
    license: str | None = None
    homepage: str | None = None
    repository: str | None = None
    author: Person | None = None
    deprecated: str | None = None
    yanked: bool | None = None
    yanked_reason: str | None = None
    engines: dict[str, str] = {}
    artifacts: list[Artifact] = []
    #: The registry's own list (PyPI's JSON API), [] when it says none; None when it says nothing.
    vulnerabilities: list[Vulnerability] | None = None
    runtime: list[Dependency] = []
    dev: list[Dependency] = []
    peer: list[Dependency] = []
    optional: list[Dependency] = []
    #: PyPI: extra -> its requirement strings as written, and the extras that look like dev ones.
    extras: dict[str, list[str]] = {}
    dev_extras: list[str] = []
    notes: list[str] = []
    #: Notes that concern only `dependencies` answers.
    dependency_notes: list[str] = []
    #: True when a secondary document could not be read (cached briefly, then tried again).
    partial: bool = False


class DependencyGroups(TypedDict):
    runtime: list[Dependency]
    dev: list[Dependency]
    peer: list[Dependency]
    optional: list[Dependency]


@dataclass(frozen=True, slots=True)
class IndexBundle:
    """An index plus the version documents the same upstream document also gave."""

    index: PackageIndex
    versions: dict[str, VersionDoc]


class Registry(Protocol):
    name: RegistryName
    #: Cache-key component: the base URLs this adapter reads from.
    origin: str
    #: Seconds a version document stays fresh.
    version_ttl: float
    #: True when the download-counts service takes the `period` argument (npm), False when it
    #: always gives the same recent windows (pypistats).
    download_periods: bool
    #: True when names are normalized for lookups (PyPI, PEP 503): answers then take the
    #: display spelling from the index.
    normalizes_names: bool

    def check_name(self, raw: str) -> str:
        """Validate against the registry's grammar; return the name to look up (PyPI: normalized)."""
        ...

    def check_version(self, raw: str) -> str:
        """Validate a version or tag string; return it stripped."""
        ...

    def is_exact(self, version: str) -> bool:
        """True when a version document can be fetched by this string without resolving it first."""
        ...

    def index(self, name: str) -> Plan[IndexBundle]: ...

    def version_doc(self, name: str, version: str) -> Plan[VersionDoc]:
        """The document of one version given as the registry spells it (or, npm, a dist-tag)."""
        ...

    def downloads(self, name: str, period: Period) -> Plan[DownloadsResult]: ...

    def resolve(self, index: PackageIndex, requested: str) -> str | None:
        """The registry's spelling of `requested` (a tag or an equivalent version), or None."""
        ...

    def nearby(self, index: PackageIndex, requested: str) -> list[str]:
        """A few existing versions close to `requested`, for the not-found sentence."""
        ...
