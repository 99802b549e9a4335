"""npm adapter: recorded and documented registry bodies → plans and parsers → complete expected models."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from mcp_registries.errors import InvalidArgument, PackageNotFound, VersionNotFound
from mcp_registries.fetching import Fetch, Missing
from mcp_registries.models import Artifact, Dependency, DownloadCount, DownloadsResult, Person, VersionEntry
from mcp_registries.registries.base import IndexBundle, PackageIndex, VersionDoc
from mcp_registries.registries.npm import (
    NOTE_NO_DATES,
    NOTE_NO_DEPRECATIONS,
    READER,
    Npm,
)
from mcp_registries.registries.npm_manifest import dependencies_of, license_of, parse_manifest
from mcp_registries.registries.packument import Packument
from mcp_registries.registries.versioning import semver_key, semver_prerelease

from .conftest import assert_index, parse_packument

DATA = Path(__file__).parent / "data"
REGISTRY = "https://registry.npmjs.org/"
DOWNLOADS = "https://api.npmjs.org/"


def load(path: str) -> Any:
    """A recorded (npm/…) or documented (documented/…) body, decoded."""
    return json.loads((DATA / path).read_text(encoding="utf-8"))


def finish(plan: Generator[Fetch, Any, Any], body: Any) -> Any:
    """Send the last body into a plan and return what the plan returns."""
    with pytest.raises(StopIteration) as stop:
        plan.send(body)
    return stop.value.value


@pytest.fixture
def npm() -> Npm:
    return Npm(REGISTRY, DOWNLOADS)


def versions_of(bundle: IndexBundle) -> list[str]:
    return [entry.version for entry in bundle.index.entries()]


def packument(versions: dict[str, dict[str, Any]], tags: dict[str, str]) -> dict[str, Any]:
    """A minimal packument: each manifest gets its name and version filled in."""
    return {
        "name": "tiny",
        "dist-tags": tags,
        "versions": {v: {"name": "tiny", "version": v, **m} for v, m in versions.items()},
        "time": {},
    }


# -- plans -----------------------------------------------------------------------------------


def test_index_plan_fetches_packument_and_parses(npm: Npm) -> None:
    """The index plan GETs /<name> once, as raw bytes it decodes itself, and parses them."""
    plan = npm.index("react")
    fetch = next(plan)
    assert fetch == Fetch(
        url="https://registry.npmjs.org/react",
        service="The npm registry",
        body="bytes",
        reader=READER,
    )
    body = (DATA / "npm/react.json").read_bytes()
    semver_key.cache_clear()
    semver_prerelease.cache_clear()
    reader = READER(segment=1024)
    for start in range(0, len(body), 4096):
        reader.feed(body[start : start + 4096])
    during = semver_key.cache_info().currsize
    read = reader.finish()
    assert isinstance(read, Packument)  # read while it streamed in
    # Sort keys were built as segments arrived; only the tail's are left for after the last byte.
    assert 0 < during < semver_key.cache_info().currsize == len(read.versions)
    bundle = finish(plan, read)
    # A body the reader gave back whole (it could not read it as it came) is decoded by the plan itself.
    plan = npm.index("react")
    next(plan)
    assert finish(plan, bytearray(body)) == bundle
    assert bundle.index.name == "react"
    assert bundle.index.latest_version == "19.3.1"
    assert list(bundle.versions) == ["19.3.1"]


def test_index_plan_scoped_name_is_one_escaped_segment(npm: Npm) -> None:
    """A scoped name goes into the URL as one segment, '/' escaped (@types%2Fnode)."""
    plan = npm.index("@types/node")
    assert next(plan).url == "https://registry.npmjs.org/@types%2Fnode"


def test_index_plan_keeps_case_and_base_path(npm: Npm) -> None:
    """Names are case-sensitive, and a mirror's path prefix stays in front of them."""
    assert next(npm.index("JSONStream")).url == "https://registry.npmjs.org/JSONStream"
    mirror = Npm("https://host/api/npm/npm-remote/", DOWNLOADS)
    assert next(mirror.index("ms")).url == "https://host/api/npm/npm-remote/ms"


def test_index_plan_404_means_package_not_found(npm: Npm) -> None:
    """The packument decides existence: its 404 is PackageNotFound naming the package, left to pass."""
    plan = npm.index("reactt")
    fetch = next(plan)
    assert isinstance(fetch.absent, PackageNotFound)
    assert str(fetch.absent) == "npm package 'reactt' not found"
    with pytest.raises(Missing):
        plan.throw(Missing(fetch))


def test_version_doc_plan_404_means_version_not_found(npm: Npm) -> None:
    """An exact version's document decides that version's existence."""
    fetch = next(npm.version_doc("react", "99.0.0"))
    assert isinstance(fetch.absent, VersionNotFound)
    assert str(fetch.absent) == "npm package 'react' has no version '99.0.0'"


def test_version_doc_plan_parses_per_version_document(npm: Npm) -> None:
    """GET /react/18.2.0 → the version's complete document (it equals the packument's entry)."""
    plan = npm.version_doc("react", "18.2.0")
    assert next(plan).url == "https://registry.npmjs.org/react/18.2.0"
    doc = finish(plan, load("npm/react@18.2.0.json"))
    assert doc == VersionDoc(
        registry="npm",
        name="react",
        version="18.2.0",
        summary="React is a JavaScript library for building user interfaces.",
        license="MIT",
        homepage="https://reactjs.org/",
        repository="https://github.com/facebook/react/tree/HEAD/packages/react",
        engines={"node": ">=0.10.0"},
        artifacts=[
            Artifact(
                filename="react-18.2.0.tgz",
                url="https://registry.npmjs.org/react/-/react-18.2.0.tgz",
                digest="sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
                kind="tarball",
            )
        ],
        runtime=[Dependency(name="loose-envify", requirement="^1.1.0")],
    )
    assert doc == parse_manifest(load("npm/react.json")["versions"]["18.2.0"], "react")


def test_version_doc_plan_by_dist_tag(npm: Npm) -> None:
    """A dist-tag is fetched as is (/react/latest) and the document names the real version."""
    plan = npm.version_doc("react", "latest")
    assert next(plan).url == "https://registry.npmjs.org/react/latest"
    doc = finish(plan, load("npm/react@latest.json"))
    assert (doc.version, doc.homepage, doc.runtime) == ("19.3.1", "https://react.dev/", [])


def test_version_doc_plan_scoped_package(npm: Npm) -> None:
    """@types/node 20.11.0: scoped URL, tarball name without the scope, one runtime dependency."""
    plan = npm.version_doc("@types/node", "20.11.0")
    assert next(plan).url == "https://registry.npmjs.org/@types%2Fnode/20.11.0"
    doc = finish(plan, load("npm/@types__node@20.11.0.json"))
    assert doc == VersionDoc(
        registry="npm",
        name="@types/node",
        version="20.11.0",
        summary="TypeScript definitions for node",
        license="MIT",
        homepage="https://github.com/DefinitelyTyped/DefinitelyTyped/tree/master/types/node",
        repository="https://github.com/DefinitelyTyped/DefinitelyTyped/tree/HEAD/types/node",
        artifacts=[
            Artifact(
                filename="node-20.11.0.tgz",
                url="https://registry.npmjs.org/@types/node/-/node-20.11.0.tgz",
                digest="sha512-o9bjXmDNcF7GbM4CNQpmi+TutCgap/K3w1JyKgxAjqx41zp9qlIAVFi0IhCNsJcXolEqLWhbFbEeL0PvYm4pcQ==",
                kind="tarball",
            )
        ],
        runtime=[Dependency(name="undici-types", requirement="~5.26.4")],
    )


def test_downloads_plan_parses_point_body(npm: Npm) -> None:
    """GET /downloads/point/<period>/<name> → one count with its inclusive dates."""
    plan = npm.downloads("express", "last-week")
    assert next(plan).url == "https://api.npmjs.org/downloads/point/last-week/express"
    result = finish(plan, load("documented/npm-downloads-point.json"))
    assert result == DownloadsResult(
        registry="npm",
        name="express",
        source="npm download counts API",
        counts=[DownloadCount(period="last-week", downloads=31245876, start="2026-11-19", end="2026-11-25")],
    )


def test_downloads_plan_404_means_package_not_found(npm: Npm) -> None:
    """The download API's 404 ({"error": "package … not found"}) means PackageNotFound."""
    fetch = next(npm.downloads("this-package-does-not-exist-xyz123", "last-month"))
    assert isinstance(fetch.absent, PackageNotFound)
    assert "this-package-does-not-exist-xyz123" in str(fetch.absent)


# -- names and versions ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["react", "@types/node", "JSONStream", "left-pad", "lodash.get", "-x", "~x"])
def test_check_name_accepts_registry_names(npm: Npm, name: str) -> None:
    """Legacy mixed-case and scoped names pass unchanged."""
    assert npm.check_name(f" {name} ") == name


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a b",
        ".x",
        "_x",
        "",
        "   ",
        "x" * 215,
        "@scope/",
        "@/x",
        "a/b",
        "@a/b/c",
        "x?y",
        "x#y",
        "x%2Fy",
        "..",
    ],
)
def test_check_name_rejects_invalid_names(npm: Npm, name: str) -> None:
    """Names npm's grammar refuses are an InvalidArgument on `name`, before any plan runs."""
    with pytest.raises(InvalidArgument) as error:
        npm.check_name(name)
    assert error.value.argument == "name"


def test_check_name_allows_214_characters(npm: Npm) -> None:
    """214 characters is npm's limit, inclusive."""
    assert npm.check_name("x" * 214) == "x" * 214


@pytest.mark.parametrize(
    "version", ["1.0.0/../..", "../x", "1.0.0?x", "1.0.0#x", "^1.0.0", ">=1", "1 2", "", "%2e%2e"]
)
def test_check_version_rejects_non_versions(npm: Npm, version: str) -> None:
    """Paths, queries, ranges and blanks are not versions or dist-tags."""
    with pytest.raises(InvalidArgument) as error:
        npm.check_version(version)
    assert error.value.argument == "version"


@pytest.mark.parametrize("version", ["..", ".", ".1.0"])
def test_check_version_refuses_leading_dots(npm: Npm, version: str) -> None:
    """No version starts with '.', so '..' can never climb out of the package's URL."""
    with pytest.raises(InvalidArgument, match="is not an npm version or dist-tag"):
        npm.check_version(version)


def test_is_exact_only_strict_semver(npm: Npm) -> None:
    """Exact SemVer is fetched directly; tags and legacy spellings go through the index first."""
    assert [npm.is_exact(v) for v in ["18.2.0", "19.0.0-rc.1", "latest", "1.0.0beta", "18.2"]] == [
        True, True, False, False, False,
    ]  # fmt: skip


# -- packuments ------------------------------------------------------------------------------


def test_parse_packument_full_document() -> None:
    """The documented full packument: accounts, publisher, tags, deprecation per version, latest's document."""
    bundle = parse_packument(load("documented/npm-packument-full.json"), "tiny-fetch-retry")
    marta = Person(
        name="Marta Kowalski", email="marta.kowalski@example.com", url="https://example.com/~marta"
    )
    assert_index(
        bundle.index,
        PackageIndex(
            registry="npm",
            name="tiny-fetch-retry",
            latest_version="1.1.0",
            summary="Retry wrapper for fetch() with exponential backoff",
            license="MIT",
            homepage="https://github.com/example/tiny-fetch-retry#readme",
            repository="https://github.com/example/tiny-fetch-retry",
            keywords=["fetch", "retry", "backoff"],
            author=marta,
            maintainers=[
                Person(username="mkowalski", email="marta.kowalski@example.com", role="maintainer"),
                Person(username="jdoe", email="jdoe@example.org", role="maintainer"),
            ],
            declared=[
                marta.model_copy(update={"role": "author"}),
                Person(name="mkowalski", email="marta.kowalski@example.com", role="maintainer"),
                Person(name="jdoe", email="jdoe@example.org", role="maintainer"),
            ],
            publisher=Person(username="mkowalski", email="marta.kowalski@example.com"),
            created="2014-06-02T18:21:07Z",
            latest_release_date="2023-11-20T16:40:12Z",
            dist_tags={"latest": "1.1.0", "next": "2.0.0-beta.1"},
            engines={"node": ">=18"},
            dependencies_count=1,
        ),
        [
            VersionEntry(
                version="2.0.0-beta.1", released="2024-02-10T09:44:50Z", prerelease=True, tags=["next"]
            ),
            VersionEntry(version="1.1.0", released="2023-11-20T16:40:12Z", tags=["latest"]),
            VersionEntry(
                version="1.0.0",
                released="2023-09-14T12:03:55Z",
                deprecated="1.0.0 retries non-idempotent requests; upgrade to >=1.1.0",
            ),
            VersionEntry(version="0.1.0", released="2014-06-02T18:21:07Z"),
        ],
    )
    assert bundle.versions == {
        "1.1.0": VersionDoc(
            registry="npm",
            name="tiny-fetch-retry",
            version="1.1.0",
            released="2023-11-20T16:40:12Z",
            summary="Retry wrapper for fetch() with exponential backoff",
            license="MIT",
            repository="https://github.com/example/tiny-fetch-retry",
            author=marta,
            engines={"node": ">=18"},
            artifacts=[
                Artifact(
                    filename="tiny-fetch-retry-1.1.0.tgz",
                    url="https://registry.npmjs.org/tiny-fetch-retry/-/tiny-fetch-retry-1.1.0.tgz",
                    digest="sha512-aMic3ZtbDxvCwvkFwMDW/Rk3429KzyVHR9zhKLvEOnh4xwE/WvMoNqj5nZbAh85DoP3Iumctrf7hDYCaOEMuKQ==",
                    kind="tarball",
                )
            ],
            runtime=[Dependency(name="ms", requirement="^2.1.3")],
            dev=[
                Dependency(name="mocha", requirement="^10.2.0"),
                Dependency(name="typescript", requirement="^5.3.3"),
            ],
            peer=[
                Dependency(name="node-fetch", requirement="^3.0.0"),
                Dependency(name="abort-controller", requirement="^3.0.0", optional=True),
            ],
            optional=[Dependency(name="undici", requirement="^6.0.0", optional=True)],
        )
    }


def test_parse_packument_full_document_legacy_licenses_of_old_version() -> None:
    """0.1.0 of the documented packument has `licenses: [{type,url}]` and `deprecated: false`."""
    manifest = load("documented/npm-packument-full.json")["versions"]["0.1.0"]
    doc = parse_manifest(manifest, "tiny-fetch-retry")
    assert (doc.license, doc.deprecated, doc.engines) == ("MIT", None, {"node": ">=0.10"})
    assert doc.artifacts[0].digest is not None and doc.artifacts[0].digest.startswith("sha512-NKeQ45")


def test_parse_packument_mirror_stripped() -> None:
    """left-pad through the mirror: no accounts (and a note saying so), people from package.json instead,
    and neither the mirror's cache times nor its silence on deprecation passed off as facts."""
    bundle = parse_packument(load("npm/left-pad.json"), "left-pad")
    versions = ["1.3.0", "1.2.0", "1.1.3", "1.1.2", "1.1.1", "1.1.0", "1.0.2", "1.0.1", "1.0.0", "0.0.9", "0.0.4",
                "0.0.3", "0.0.2", "0.0.1", "0.0.0"]  # fmt: skip
    assert_index(
        bundle.index,
        PackageIndex(
            registry="npm",
            name="left-pad",
            latest_version="1.3.0",
            summary="String left pad",
            license="WTFPL",
            repository="https://github.com/stevemao/left-pad",
            keywords=["leftpad", "left", "pad", "padding", "string", "repeat"],
            author=Person(name="azer"),
            maintainers=[],
            declared=[
                Person(name="azer", role="author"),
                Person(name="Cameron Westland", email="camwest@gmail.com", role="maintainer"),
            ],
            created=None,
            latest_release_date=None,
            dist_tags={"latest": "1.3.0"},
            dependencies_count=0,
            unknowns=[NOTE_NO_DATES, NOTE_NO_DEPRECATIONS],
        ),
        [VersionEntry(version=v, tags=["latest"] if v == "1.3.0" else []) for v in versions],
    )
    assert bundle.versions["1.3.0"].released is None
    assert bundle.versions["1.3.0"].dev == [
        Dependency(name="benchmark", requirement="^2.1.0"),
        Dependency(name="fast-check", requirement="0.0.8"),
        Dependency(name="tape", requirement="*"),
    ]


def test_parse_packument_mirror_times_are_not_release_dates() -> None:
    """request through the mirror: its `time` map (no created/modified) dates 2.88.2 in 2024; no date is kept."""
    index = parse_packument(load("npm/request.json"), "request").index
    assert index.latest_version == "2.88.2"
    assert (index.created, index.latest_release_date, index.released) == (None, None, {})
    assert all(entry.released is None for entry in index.entries())
    assert index.unknowns == [NOTE_NO_DATES, NOTE_NO_DEPRECATIONS]


def test_parse_packument_registry_times_are_kept() -> None:
    """A packument whose `time` has `created` and `modified` (the registry's own) keeps its dates, no notes."""
    index = parse_packument(load("documented/npm-packument-full.json"), "full-example").index
    assert index.created is not None and index.latest_release_date is not None
    assert all(entry.released for entry in index.entries())
    assert index.unknowns == []


def test_parse_packument_unpublished_keeps_date() -> None:
    """A tombstone (no versions, `time.unpublished`) is an index with no versions that says when."""
    index = parse_packument(load("documented/npm-unpublished.json"), "gone-widget").index
    assert (index.version_order, index.latest_version) == ([], None)
    assert index.unpublished == "2022-03-03T09:15:42Z"
    assert index.unknowns == []


def test_parse_packument_empty_document_has_no_versions() -> None:
    """The mirror's empty document for a removed package (getcookies) is an index with no versions."""
    index = parse_packument(load("npm/getcookies.json"), "getcookies").index
    assert (index.name, index.version_order, index.latest_version, index.unpublished) == (
        "getcookies",
        [],
        None,
        None,
    )


def test_parse_packument_latest_is_dist_tag_even_below_highest() -> None:
    """latest_version is `dist-tags.latest`, not the highest version published."""
    body = packument({"1.0.0": {}, "2.0.0": {}, "3.0.0-rc.1": {}}, {"latest": "1.0.0", "next": "3.0.0-rc.1"})
    index = parse_packument(body, "tiny").index
    assert index.latest_version == "1.0.0"
    assert [(e.version, e.tags) for e in index.entries()] == [
        ("3.0.0-rc.1", ["next"]),
        ("2.0.0", []),
        ("1.0.0", ["latest"]),
    ]
    assert index.notes == []


def test_parse_packument_without_latest_tag_takes_highest_release() -> None:
    """No usable `latest` tag: the highest non-prerelease, with a note."""
    index = parse_packument(
        packument({"1.0.0": {}, "1.1.0": {}, "2.0.0-beta.1": {}}, {"latest": "9.9.9"}), "tiny"
    ).index
    assert index.latest_version == "1.1.0"
    assert index.notes[0] == "the registry names no 'latest' dist-tag; latest_version is the highest release"


def test_parse_packument_case_sensitive_names_are_different_packages() -> None:
    """JSONStream and jsonstream are separate packages, each keeping its own spelling."""
    upper = parse_packument(load("npm/JSONStream.json"), "JSONStream").index
    lower = parse_packument(load("npm/jsonstream_lowercase.json"), "jsonstream").index
    assert (upper.name, upper.latest_version, len(upper.entries())) == ("JSONStream", "1.3.5", 37)
    assert (lower.name, lower.latest_version, [e.version for e in lower.entries()]) == (
        "jsonstream",
        "1.0.3",
        ["1.0.3"],
    )
    capital = parse_packument(load("npm/Express_capitalized.json"), "Express").index
    assert (capital.name, capital.latest_version, capital.repository) == (
        "Express", "3.0.1", "https://github.com/npm/deprecate-holder",
    )  # fmt: skip


def test_parse_packument_express_keeps_and_orders_legacy_versions() -> None:
    """All 290 express keys are kept; `1.0.0beta`-style keys sit just below their release, in order."""
    data = load("npm/express.json")
    bundle = parse_packument(data, "express")
    versions = versions_of(bundle)
    assert len(versions) == len(data["versions"]) == 290
    assert versions[:7] == ["5.3.0", "5.2.1", "5.2.0", "5.1.0", "5.0.1", "5.0.0", "5.0.0-beta.3"]
    start = versions.index("3.0.1")
    assert versions[start : start + 20] == [
        "3.0.1", "3.0.0", "3.0.0rc5", "3.0.0rc4", "3.0.0rc3", "3.0.0rc2", "3.0.0rc1", "3.0.0beta7", "3.0.0beta6",
        "3.0.0beta4", "3.0.0beta3", "3.0.0beta2", "3.0.0beta1", "3.0.0alpha5", "3.0.0alpha4", "3.0.0alpha3",
        "3.0.0alpha2", "3.0.0alpha1", "2.5.11", "2.5.10",
    ]  # fmt: skip
    assert versions[-25:] == [
        "2.1.0", "2.0.0", "2.0.0rc3", "2.0.0rc2", "2.0.0rc", "2.0.0beta3", "2.0.0beta2", "2.0.0beta",
        "1.0.8", "1.0.7", "1.0.6", "1.0.5", "1.0.4", "1.0.3", "1.0.2", "1.0.1", "1.0.0",
        "1.0.0rc4", "1.0.0rc3", "1.0.0rc2", "1.0.0rc", "1.0.0beta2", "1.0.0beta", "0.14.1", "0.14.0",
    ]  # fmt: skip
    legacy = {
        e.version: e.prerelease
        for e in bundle.index.entries()
        if e.version in {"1.0.0beta", "3.0.0rc5", "3.0.0"}
    }
    assert legacy == {"1.0.0beta": True, "3.0.0rc5": True, "3.0.0": False}
    assert bundle.index.latest_version == "5.3.0"


def test_parse_packument_shelljs_pre_versions_ordered() -> None:
    """shelljs's `0.0.4pre1`-style keys are prereleases of their version, all 51 kept."""
    versions = versions_of(parse_packument(load("npm/shelljs.json"), "shelljs"))
    assert len(versions) == 51
    assert versions[:3] == ["0.10.0", "0.9.2", "0.9.1"]
    assert versions[-10:] == [
        "0.0.7", "0.0.6", "0.0.6pre2", "0.0.6pre1", "0.0.5", "0.0.5pre4", "0.0.4", "0.0.4pre1", "0.0.2", "0.0.1",
    ]  # fmt: skip


def test_parse_packument_react_order_and_prerelease_flags() -> None:
    """react: SemVer precedence (not date, not key order), numeric prerelease ids below alphanumeric ones."""
    bundle = parse_packument(load("npm/react.json"), "react")
    assert [(e.version, e.prerelease) for e in bundle.index.entries()] == [
        ("19.3.1", False), ("19.3.0", False), ("19.3.0-canary-ff8f88fc-20260915", True),
        ("19.3.0-canary-dc9aed36-20261027", True), ("19.2.9", False), ("19.2.8", False), ("19.2.7", False),
        ("19.2.6", False), ("19.2.5", False), ("19.2.4", False), ("19.2.3", False), ("19.2.2", False),
        ("19.2.1", False), ("19.2.0", False), ("19.1.10", False), ("19.1.9", False), ("19.1.8", False),
        ("19.0.0-rc-f9ebd85a-20240925", True), ("19.0.0-rc.1", True), ("18.3.1", False),
        ("18.3.0-next-fecc288b7-20221025", True), ("18.2.0", False), ("18.0.0-rc.0", True), ("17.0.2", False),
        ("16.14.0", False), ("16.1.0-rc", True), ("16.0.0-alpha", True), ("15.7.0", False), ("15.0.0-rc.1", True),
        ("0.14.0-rc1", True), ("0.14.0-beta1", True), ("0.2.0", False), ("0.1.2", False), ("0.0.3", False),
        ("0.0.2", False), ("0.0.1", False), ("0.0.0-experimental-dc9aed36-20261027", True),
        ("0.0.0-375616788", True),
    ]  # fmt: skip


def test_parse_packument_deprecated_false_is_not_a_deprecation() -> None:
    """`"deprecated": false` (react 15.7.0, 16.14.0) reads as not deprecated; a string is the message."""
    entries = {e.version: e for e in parse_packument(load("npm/react.json"), "react").index.entries()}
    assert entries["15.7.0"].deprecated is None and entries["16.14.0"].deprecated is None
    body = packument(
        {"1.0.0": {"deprecated": "use tiny2"}, "1.0.1": {"deprecated": False}}, {"latest": "1.0.0"}
    )
    index = parse_packument(body, "tiny").index
    assert [(e.version, e.deprecated) for e in index.entries()] == [("1.0.1", None), ("1.0.0", "use tiny2")]
    assert index.deprecated == "use tiny2"


def test_parse_packument_reads_every_deprecation_and_survives_odd_version_values() -> None:
    """Deprecations come from one pass over the body; a version whose value is not an object is skipped."""
    body = packument(
        {"1.0.0": {"deprecated": "use tiny2"}, "1.1.0": {}, "2.0.0": {"deprecated": " gone "}},
        {"latest": "1.1.0"},
    )
    as_json = json.dumps(body).encode()
    index = parse_packument(as_json, "tiny").index
    assert index.deprecations == {"1.0.0": "use tiny2", "2.0.0": "gone"}
    body["versions"]["0.0.1"] = "not an object"
    index = parse_packument(json.dumps(body).encode(), "tiny").index
    assert index.deprecations == {"1.0.0": "use tiny2", "2.0.0": "gone"}
    assert index.version_order == ["2.0.0", "1.1.0", "1.0.0", "0.0.1"]


def test_parse_packument_scoped_package() -> None:
    """@types/node: the repository's `directory` becomes a tree URL; contributors are declared, capped at 10."""
    bundle = parse_packument(load("npm/@types__node.json"), "@types/node")
    index = bundle.index
    assert (index.name, index.latest_version, index.dependencies_count) == ("@types/node", "26.6.6", 1)
    assert index.repository == "https://github.com/DefinitelyTyped/DefinitelyTyped/tree/HEAD/types/node"
    assert versions_of(bundle) == [
        "26.6.6", "26.6.5", "26.6.4", "26.6.3", "26.6.2", "26.6.1", "26.6.0", "26.5.1", "26.5.0", "26.4.1",
        "26.4.0", "26.3.0", "26.2.0", "25.9.9", "24.19.4", "22.20.5", "20.19.43", "20.11.0", "18.19.130",
        "16.18.126", "4.0.28-alpha", "4.0.22-alpha", "0.12.0", "0.0.3", "0.0.2", "0.0.1", "0.0.0",
    ]  # fmt: skip
    assert len(index.declared) == 10
    assert index.declared[0] == Person(
        name="Microsoft TypeScript", url="https://github.com/Microsoft", role="contributor"
    )


# -- manifests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"license": "MIT"}, "MIT"),
        ({"license": "(MIT OR Apache-2.0)"}, "(MIT OR Apache-2.0)"),
        ({"license": {"type": "ISC", "url": "https://opensource.org/licenses/ISC"}}, "ISC"),
        ({"licenses": [{"type": "MIT", "url": "http://x/LICENSE"}]}, "MIT"),
        (
            {"licenses": [{"type": "MIT", "url": "u"}, {"type": "Apache-2.0", "url": "v"}]},
            "MIT OR Apache-2.0",
        ),
        ({"licenses": ["BSD"]}, "BSD"),
        ({"licence": "BSD-2-Clause"}, "BSD-2-Clause"),
        ({"license": ""}, None),
        ({}, None),
    ],
)
def test_license_of_shapes(manifest: dict[str, Any], expected: str | None) -> None:
    """Every licence shape npm has accepted over the years reads as one string."""
    assert license_of(manifest) == expected


def test_license_of_recorded_legacy_licenses_list() -> None:
    """react 0.0.1 (an older, different package) has only `licenses: [{type,url}]`."""
    assert parse_manifest(load("npm/react.json")["versions"]["0.0.1"], "react").license == "MIT"


def test_dependencies_of_optional_listed_once() -> None:
    """npm copies optionalDependencies into dependencies; each is listed once, as optional."""
    groups = dependencies_of(
        {
            "dependencies": {"ms": "^2.1.3", "undici": "^6.0.0"},
            "optionalDependencies": {"undici": "^6.0.0"},
            "devDependencies": {"mocha": "^10"},
            "peerDependencies": {"react": ">=18", "react-dom": ">=18"},
            "peerDependenciesMeta": {"react-dom": {"optional": True}, "react": {"optional": False}},
        }
    )
    assert groups == {
        "runtime": [Dependency(name="ms", requirement="^2.1.3")],
        "dev": [Dependency(name="mocha", requirement="^10")],
        "peer": [
            Dependency(name="react", requirement=">=18"),
            Dependency(name="react-dom", requirement=">=18", optional=True),
        ],
        "optional": [Dependency(name="undici", requirement="^6.0.0", optional=True)],
    }


def test_parse_manifest_express_4_18_2() -> None:
    """express 4.18.2: string author, `user/repo` repository, 31 runtime and 17 dev dependencies in order."""
    doc = parse_manifest(load("npm/express@4.18.2.json"), "express")
    assert (doc.author, doc.repository, doc.homepage, doc.engines) == (
        Person(name="TJ Holowaychuk", email="tj@vision-media.ca"),
        "https://github.com/expressjs/express",
        "http://expressjs.com/",
        {"node": ">= 0.10.0"},
    )
    assert [d.name for d in doc.runtime][:4] == [
        "accepts",
        "array-flatten",
        "body-parser",
        "content-disposition",
    ]
    assert (len(doc.runtime), len(doc.dev), doc.peer, doc.optional) == (31, 17, [], [])
    assert doc.runtime[0] == Dependency(name="accepts", requirement="~1.3.8")


# -- resolve and nearby ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def react_index() -> PackageIndex:
    return parse_packument(load("npm/react.json"), "react").index


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("latest", "19.3.1"),
        ("18.2.0", "18.2.0"),
        ("v18.2.0", "18.2.0"),
        ("=18.2.0", "18.2.0"),
        ("0.14.0-rc1", "0.14.0-rc1"),
        ("next", None),
        ("99.0.0", None),
        ("18.2", None),
        ("18", None),
    ],
)
def test_resolve_tags_exact_and_loose_spellings(
    npm: Npm, react_index: PackageIndex, requested: str, expected: str | None
) -> None:
    """Tags and loose spellings of one version resolve; partial versions (npm ranges) and unknowns do not."""
    assert npm.resolve(react_index, requested) == expected


def test_resolve_legacy_spelling(npm: Npm) -> None:
    """`1.0.0-beta` finds express's legacy key `1.0.0beta` (the same version to SemVer's loose reading)."""
    index = parse_packument(load("npm/express.json"), "express").index
    assert npm.resolve(index, "1.0.0-beta") == "1.0.0beta"
    assert npm.resolve(index, "1.0.0beta") == "1.0.0beta"


def test_nearby_versions_around_a_missing_version(npm: Npm, react_index: PackageIndex) -> None:
    """A missing version lists its neighbours by precedence, highest first."""
    assert npm.nearby(react_index, "18.2.5") == ["18.3.0-next-fecc288b7-20221025", "18.2.0", "18.0.0-rc.0"]
    assert npm.nearby(react_index, "99.0.0") == ["19.3.1", "19.3.0"]


def test_nearby_for_a_tag_lists_the_newest(npm: Npm, react_index: PackageIndex) -> None:
    """An unknown tag has no place in the order; the newest versions are listed."""
    assert npm.nearby(react_index, "next") == ["19.3.1", "19.3.0", "19.3.0-canary-ff8f88fc-20260915"]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ('{"version": "1.0.0", "deprecated": false}', {}),
        ('{"version":"1.0.0","a": {"deprecated":false}, "deprecated" :  "use b2"}', {"1.0.0": "use b2"}),
        ('{"version": "1.0.0", "deprecated":"gone"}', {"1.0.0": "gone"}),
        ('{"version": "1.0.0", "description": "not deprecated at all"}', {}),
        ('{"version": "1.0.0"}', {}),
    ],
)
def test_deprecation_is_a_string_value_only(manifest: str, expected: dict[str, str]) -> None:
    """Only a string is a deprecation, in compact or spaced JSON."""
    body = '{"name": "t", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": ' + manifest + "}}"
    assert parse_packument(body.encode(), "t").index.deprecations == expected
