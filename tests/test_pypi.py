"""PyPI adapter: recorded and documented bodies → plans and parsers → complete expected models."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from mcp_registries.errors import InvalidArgument, NotFound, PackageNotFound, UpstreamStatus
from mcp_registries.fetching import Fetch, Missing
from mcp_registries.models import (
    Artifact,
    Dependency,
    DownloadCount,
    DownloadsResult,
    Person,
    VersionEntry,
    Vulnerability,
)
from mcp_registries.registries.base import IndexBundle, PackageIndex, VersionDoc
from mcp_registries.registries.pypi import SIMPLE_JSON, PyPI
from mcp_registries.registries.pypi_metadata import NOTE_DEV, dependencies_of, license_of, repository_of
from mcp_registries.registries.pypi_reader import ProjectReader

from .conftest import assert_index, parse_project

DATA = Path(__file__).parent / "data"
BASE = "https://pypi.org/"
STATS = "https://pypistats.org/"
FILES = "https://files.pythonhosted.org/packages/"
GITLAB_REASON = "A more complete GitLab API wrapper replaces this package. See: https://github.com/python-gitlab/python-gitlab"
DJANGO_EOL_REASON = "Release files have Windows end-of-line characters and are missing executable bits."
NO_OWNERS = "this registry (or its mirror) lists no project owners"
NO_VULNERABILITY_DATA = (
    "vulnerability data for this release is unavailable: the per-version JSON endpoint is missing"
)


def load(path: str) -> Any:
    """A recorded (pypi/…) or documented (documented/…) body, decoded."""
    return json.loads((DATA / path).read_text(encoding="utf-8"))


def load_text(path: str) -> str:
    return (DATA / path).read_text(encoding="utf-8")


def finish(plan: Generator[Fetch, Any, Any], body: Any = None, *, throw: BaseException | None = None) -> Any:
    """Send the last body (or throw the last failure) into a plan and return what the plan returns."""
    with pytest.raises(StopIteration) as stop:
        plan.throw(throw) if throw is not None else plan.send(body)
    return stop.value.value


def project(name: str) -> IndexBundle:
    """A recorded project JSON parsed as if fetched from its canonical URL."""
    return parse_project(load(f"pypi/{name}.json"), f"{BASE}pypi/{name}/json")


def versions_of(bundle: IndexBundle) -> list[str]:
    return [entry.version for entry in bundle.index.entries()]


@pytest.fixture
def pypi() -> PyPI:
    return PyPI(BASE, STATS)


# -- names and versions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("typing_extensions", "typing-extensions"),
        ("  Typing__Extensions ", "typing-extensions"),
        ("x", "x"),
        ("x" * 200, "x" * 200),
    ],
)
def test_check_name_normalizes_pep503(pypi: PyPI, raw: str, normalized: str) -> None:
    """Any PEP 503-equivalent spelling looks up the normalized name."""
    assert pypi.check_name(raw) == normalized


@pytest.mark.parametrize(
    "raw", ["-x", "x-", ".x", "x.", "a b", "../x", "x/y", "ñame", "\u212aelvin", "x" * 201, "", "x?y"]
)
def test_check_name_rejects_invalid_names(pypi: PyPI, raw: str) -> None:
    """Names outside PEP 508's ASCII grammar (the Kelvin sign included) are refused before any request."""
    with pytest.raises(InvalidArgument) as error:
        pypi.check_name(raw)
    assert error.value.argument == "name"


@pytest.mark.parametrize("raw", ["4.2/../..", "4.2?x", "4 2", "", "x" * 129])
def test_check_version_rejects_non_versions(pypi: PyPI, raw: str) -> None:
    """Paths, queries, blanks and overlong strings are not versions."""
    with pytest.raises(
        InvalidArgument, match=r" is not a PyPI version: give one such as '2\.31\.0'"
    ) as error:
        pypi.check_version(raw)
    assert error.value.argument == "version"


# -- index plan and project JSON -------------------------------------------------------------


def test_index_plan_fetches_project_json(pypi: PyPI) -> None:
    """GET /pypi/<normalized>/json once; a body with `releases` needs nothing more."""
    plan = pypi.index("django")
    assert next(plan) == Fetch(
        url="https://pypi.org/pypi/django/json",
        service="PyPI",
        body="bytes",
        reader=ProjectReader,
    )
    bundle = finish(plan, (DATA / "pypi/Django.json").read_bytes())
    assert (bundle.index.name, bundle.index.latest_version) == ("Django", "6.1.3")


def test_index_plan_404_means_package_not_found(pypi: PyPI) -> None:
    """The project JSON decides existence: its 404 is PackageNotFound."""
    fetch = next(pypi.index("this-does-not-exist-xyz123"))
    assert isinstance(fetch.absent, PackageNotFound)
    assert str(fetch.absent) == "pypi package 'this-does-not-exist-xyz123' not found"


def test_index_plan_without_releases_reads_simple_api(pypi: PyPI) -> None:
    """Project JSON without the deprecated `releases` key: versions and files come from the Simple API."""
    body = load("pypi/Django.json")
    del body["releases"]
    plan = pypi.index("django")
    next(plan)
    simple = plan.send(json.dumps(body).encode())
    assert simple == Fetch(url="https://pypi.org/simple/django/", service="PyPI", accept=SIMPLE_JSON)
    bundle = finish(plan, load("pypi/simple-django.json"))
    entries = {e.version: e for e in bundle.index.entries()}
    assert len(entries) == 448
    assert versions_of(bundle)[:8] == ["6.1.3", "6.1.2", "6.1.1", "6.1", "6.1rc1", "6.1b1", "6.1a1", "6.0.10"]
    assert entries["4.2.12"] == VersionEntry(
        version="4.2.12", released="2024-05-06T16:41:14Z", yanked=True, yanked_reason=DJANGO_EOL_REASON
    )
    assert entries["4.2"] == VersionEntry(version="4.2", released="2023-04-03T08:36:11Z")
    assert entries["1.0.1"] == VersionEntry(version="1.0.1")


def test_parse_project_requests() -> None:
    """requests: owners as accounts, declared people from comma-separated addresses, yanks with reasons."""
    bundle = project("requests")
    assert_index(
        bundle.index,
        PackageIndex(
            registry="pypi",
            name="requests",
            latest_version="2.34.2",
            summary="Python HTTP for Humans.",
            license="Apache-2.0",
            repository="https://github.com/psf/requests",
            author=Person(name="Kenneth Reitz", email="me@kennethreitz.org"),
            maintainers=[
                Person(username="Lukasa", role="Owner"),
                Person(username="graffatcolmingov", role="Owner"),
                Person(username="nateprewitt", role="Owner"),
            ],
            declared=[
                Person(name="Ian Stapleton Cordasco", email="graffatcolmingov@gmail.com", role="maintainer"),
                Person(name="Nate Prewitt", email="nate.prewitt@gmail.com", role="maintainer"),
                Person(name="Kenneth Reitz", email="me@kennethreitz.org", role="author"),
            ],
            created="2011-02-14T08:49:42Z",
            latest_release_date="2026-05-14T19:25:26Z",
            engines={"python": ">=3.10"},
            dependencies_count=4,
        ),
        None,
    )
    reason = "Yanked due to conflicts with CVE-2024-35195 mitigation"
    assert bundle.index.entries()[:13] == [
        VersionEntry(version="2.34.2", released="2026-05-14T19:25:26Z", tags=["latest"]),
        VersionEntry(version="2.34.1", released="2026-05-13T19:20:22Z"),
        VersionEntry(version="2.34.0", released="2026-05-11T19:29:49Z"),
        VersionEntry(version="2.34.0.dev1", released="2026-05-03T20:21:40Z", prerelease=True),
        VersionEntry(version="2.33.1", released="2026-03-30T16:09:13Z"),
        VersionEntry(version="2.33.0", released="2026-03-25T15:10:40Z"),
        VersionEntry(version="2.32.5", released="2025-08-18T20:46:00Z"),
        VersionEntry(version="2.32.4", released="2025-06-09T16:43:05Z"),
        VersionEntry(version="2.32.3", released="2024-05-29T15:37:47Z"),
        VersionEntry(version="2.32.2", released="2024-05-21T18:51:29Z"),
        # The recorded reason for 2.32.1 ends in a space.
        VersionEntry(version="2.32.1", released="2024-05-20T22:08:45Z", yanked=True, yanked_reason=reason),
        VersionEntry(version="2.32.0", released="2024-05-20T16:08:19Z", yanked=True, yanked_reason=reason),
        VersionEntry(version="2.31.0", released="2023-05-22T15:12:42Z"),
    ]
    assert len(bundle.index.entries()) == 163


def test_parse_project_requires_python_column_from_file_entries() -> None:
    """Each release's Requires-Python as its files state it, for resolvers; none when no file states one."""
    python = project("requests").index.requires_python
    assert python["2.34.2"] == ">=3.10"
    assert python["2.32.3"] == ">=3.8"
    assert python["2.27.1"] == ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*"
    assert "2.0.0" not in python and len(python) == 31


def test_parse_project_requires_python_column_kept_only_when_every_file_agrees() -> None:
    """A release whose files disagree (or one of which states nothing) has no entry: its metadata decides."""
    files = {
        "1.0": [{"requires_python": ">=3.8"}, {"requires_python": ">=3.8 "}],
        "2.0": [{"requires_python": ">=3.9"}, {"requires_python": ">=3.10"}],
        "3.0": [{"requires_python": ">=3.9"}, {"requires_python": None}],
        "4.0": [],
    }
    body = {"info": {"name": "x", "version": "4.0"}, "releases": files}
    assert parse_project(body, f"{BASE}pypi/x/json").index.requires_python == {"1.0": ">=3.8"}


def test_parse_simple_releases_requires_python_column() -> None:
    """The Simple API's `requires-python` fills the same column when the JSON API omits `releases`."""
    body = load("pypi/Django.json")
    index = parse_project({**body, "releases": None}, BASE, (load("pypi/simple-django.json"), BASE)).index
    assert index.requires_python["4.2"] == ">=3.8" and index.requires_python["3.0"] == ">=3.6"


def test_parse_project_requests_latest_document() -> None:
    """The project JSON's `info` + `urls` give the latest release's complete document."""
    doc = project("requests").versions["2.34.2"]
    assert doc == VersionDoc(
        # The project document's own (empty) list: PyPI knows none, not "unknown".
        vulnerabilities=[],
        registry="pypi",
        name="requests",
        version="2.34.2",
        released="2026-05-14T19:25:26Z",
        summary="Python HTTP for Humans.",
        license="Apache-2.0",
        repository="https://github.com/psf/requests",
        author=Person(name="Kenneth Reitz", email="me@kennethreitz.org"),
        yanked=False,
        engines={"python": ">=3.10"},
        artifacts=[
            Artifact(
                filename="requests-2.34.2-py3-none-any.whl",
                url=FILES
                + "a0/f4/c67b0b3f1b9245e8d266f0f112c500d50e5b4e83cb6f3b71b6528104182a/requests-2.34.2-py3-none-any.whl",
                size=73075,
                digest="sha256:2a0d60c172f83ac6ab31e4554906c0f3b3588d37b5cb939b1c061f4907e278e0",
                kind="wheel",
            ),
            Artifact(
                filename="requests-2.34.2.tar.gz",
                url=FILES
                + "ac/c3/e2a2b89f2d3e2179abd6d00ebd70bff6273f37fb3e0cc209f48b39d00cbf/requests-2.34.2.tar.gz",
                size=142856,
                digest="sha256:f288924cae4e29463698d6d60bc6a4da69c89185ad1e0bcc4104f584e960b9ed",
                kind="sdist",
            ),
        ],
        runtime=[
            Dependency(name="charset_normalizer", requirement="<4,>=2"),
            Dependency(name="idna", requirement="<4,>=2.5"),
            Dependency(name="urllib3", requirement="<3,>=1.26"),
            Dependency(name="certifi", requirement=">=2023.5.7"),
        ],
        extras={
            "socks": ["PySocks!=1.5.7,>=1.5.6"],
            "use-chardet-on-py3": ["chardet<8,>=3.0.2"],
        },
        dependency_notes=[NOTE_DEV],
    )


def test_parse_project_releases_without_files_are_kept() -> None:
    """Releases with no files (requests 2.15.0, 0.12.01, 0.0.1) stay in the list with no release date."""
    entries = {e.version: e for e in project("requests").index.entries()}
    assert [entries[v] for v in ("2.15.0", "0.12.01", "0.0.1")] == [
        VersionEntry(version="2.15.0"),
        VersionEntry(version="0.12.01"),
        VersionEntry(version="0.0.1"),
    ]
    assert versions_of(project("requests"))[-3:] == ["0.2.1", "0.2.0", "0.0.1"]


def test_parse_project_django_relative_urls_and_organization() -> None:
    """Django: mirror-relative file URLs become absolute, the organization is kept, homepage from project_urls."""
    bundle = project("Django")
    index = bundle.index
    assert (index.name, index.organization, index.maintainers, index.notes) == ("Django", "django", [], [])
    assert (index.homepage, index.repository, index.license) == (
        "https://www.djangoproject.com/", "https://github.com/django/django", "BSD-3-Clause",
    )  # fmt: skip
    assert bundle.versions["6.1.3"].artifacts[0] == Artifact(
        filename="django-6.1.3-py3-none-any.whl",
        url="https://pypi.org/packages/packages/77/f2/adbe0352c6673f7b608724be5f69962c80ba1d06f8ed60fa4bfbec258b08/django-6.1.3-py3-none-any.whl",
        size=8424610,
        digest="sha256:a0530e3fdac55d34ccc5893c36f6c57d7a7083064f3d414537e51473648b3290",
        kind="wheel",
    )
    assert bundle.versions["6.1.3"].runtime == [
        Dependency(name="asgiref", requirement=">=3.9.1"),
        Dependency(name="sqlparse", requirement=">=0.5.0"),
        Dependency(name="tzdata", marker='sys_platform == "win32"'),
    ]


def test_parse_project_relative_urls_follow_a_mirror_prefix() -> None:
    """Relative file URLs resolve against the JSON URL actually fetched, path prefix included."""
    bundle = parse_project(load("pypi/Django.json"), "https://host/api/pypi/pypi-remote/pypi/django/json")
    assert bundle.versions["6.1.3"].artifacts[1].url == (
        "https://host/api/pypi/pypi-remote/packages/packages/55/79/"
        "49a609ea76ec51404b482932e33f1e6858946b920232c11b11a25bea3032/django-6.1.3.tar.gz"
    )


def test_parse_project_django_order_and_yanks() -> None:
    """PEP 440 order regardless of key order; Django 4.2.12 and 5.0.5 yanked with their reason."""
    bundle = project("Django")
    assert versions_of(bundle)[:20] == [
        "6.1.3", "6.1.2", "6.1.1", "6.1", "6.1rc1", "6.1b1", "6.1a1", "6.0.10", "6.0.9", "6.0.8",
        "6.0.7", "6.0.6", "6.0.5", "6.0.4", "6.0.3", "6.0.2", "6.0.1", "6.0", "6.0rc1", "6.0b1",
    ]  # fmt: skip
    assert [(e.version, e.yanked_reason) for e in bundle.index.entries() if e.yanked] == [
        ("5.0.5", DJANGO_EOL_REASON),
        ("4.2.12", DJANGO_EOL_REASON),
    ]
    assert versions_of(bundle)[-7:] == ["1.1.2", "1.1.1", "1.1", "1.0.4", "1.0.3", "1.0.2", "1.0.1"]
    assert [e.released for e in bundle.index.entries()[-7:]] == [None] * 7


def test_parse_project_zope_interface_owners_and_yanks() -> None:
    """zope.interface: 27 owners of organization 'zope'; seven yanked releases, each with its own reason."""
    bundle = project("zope.interface")
    index = bundle.index
    assert (index.name, index.organization, len(index.maintainers)) == ("zope.interface", "zope", 27)
    assert index.maintainers[0] == Person(username="J1m", role="Owner")
    assert [(e.version, e.yanked_reason) for e in index.entries() if e.yanked] == [
        ("7.0", "problems when subclassing"),
        ("6.4.post1", "missing windows wheels"),
        ("6.4.post0", "missing windows wheels"),
        ("6.4", '"wrong" name of sdist'),
        ("6.1a2", "old alpha version"),
        ("6.1a1", "Missing some wheels."),
        ("5.5.0.dev0", "build error"),
    ]
    assert index.keywords == ["interface", "components", "plugins"]
    latest = bundle.versions["8.7"]
    # Every file is kept: the answer summarises them and lists a few (files='all' pages through them).
    assert (len(latest.artifacts), latest.notes) == (50, [])
    assert latest.extras["docs"][:3] == ["Sphinx", "repoze.sphinx.autointerface", "furo"]
    assert "coverage[toml]" in latest.extras["test"]
    assert latest.dev_extras == ["docs", "test", "testing"]
    assert (latest.runtime, latest.optional, latest.dev) == ([], [], [])


def test_parse_project_every_release_yanked() -> None:
    """gitlab: every release yanked, so is the latest, with the reason; complete expected index."""
    bundle = project("gitlab")
    assert_index(
        bundle.index,
        PackageIndex(
            registry="pypi",
            name="gitlab",
            latest_version="1.0.2",
            summary="Get GitLab user Details",
            license="MIT License",
            homepage="https://yoginth.ml",
            repository="https://gitlab.com/yoginth/gitlab",
            author=Person(name="Yoginth", email="yoginth@zoho.com"),
            maintainers=[
                Person(username="bufferoverflow", role="Owner"),
                Person(username="max-wittig", role="Owner"),
                Person(username="nejch", role="Owner"),
            ],
            declared=[Person(name="Yoginth", email="yoginth@zoho.com", role="author")],
            created="2018-07-27T15:38:46Z",
            latest_release_date="2018-07-29T14:41:48Z",
            yanked=True,
            yanked_reason=GITLAB_REASON,
            dependencies_count=0,
        ),
        [
            VersionEntry(
                version="1.0.2",
                released="2018-07-29T14:41:48Z",
                yanked=True,
                yanked_reason=GITLAB_REASON,
                tags=["latest"],
            ),
            VersionEntry(
                version="1.0.1", released="2018-07-29T14:31:31Z", yanked=True, yanked_reason=GITLAB_REASON
            ),
            VersionEntry(
                version="1.0.0", released="2018-07-27T15:38:46Z", yanked=True, yanked_reason=GITLAB_REASON
            ),
        ],
    )
    assert bundle.versions["1.0.2"] == VersionDoc(
        vulnerabilities=[],
        registry="pypi",
        name="gitlab",
        version="1.0.2",
        released="2018-07-29T14:41:48Z",
        summary="Get GitLab user Details",
        license="MIT License",
        homepage="https://yoginth.ml",
        repository="https://gitlab.com/yoginth/gitlab",
        author=Person(name="Yoginth", email="yoginth@zoho.com"),
        yanked=True,
        yanked_reason=GITLAB_REASON,
        artifacts=[
            Artifact(
                filename="gitlab-1.0.2.tar.gz",
                url=FILES
                + "ad/c5/91cb054390cafd6739eab83dfb5d739b699f10b4ff139602f98345e787ef/gitlab-1.0.2.tar.gz",
                size=2226,
                digest="sha256:28425cd714fd1e4bc6b275acade5367bea869be85ac23ca5bd984375e742d172",
                kind="sdist",
            )
        ],
        dependency_notes=[NOTE_DEV],
    )


def test_parse_project_prerelease_only() -> None:
    """opentelemetry-instrumentation: all 76 releases are prereleases; latest is `info.version` (0.66b2)."""
    bundle = project("opentelemetry-instrumentation")
    versions = versions_of(bundle)
    assert bundle.index.latest_version == "0.66b2"
    assert len(versions) == 76 and all(e.prerelease for e in bundle.index.entries())
    assert versions[:6] == ["0.66b2", "0.66b1", "0.66b0", "0.65b0", "0.64b0", "0.63b1"]
    assert versions[-4:] == ["0.12b0", "0.11b0", "0.10b0", "0.9b0"]
    assert bundle.index.organization == "opentelemetry"
    assert bundle.index.repository == "https://github.com/open-telemetry/opentelemetry-python-contrib"


def test_parse_project_requires_dist_null() -> None:
    """typing_extensions: `requires_dist: null` is no dependencies; the name is PyPI's display name."""
    bundle = project("typing_extensions")
    doc = bundle.versions["4.16.0"]
    assert (bundle.index.name, bundle.index.dependencies_count) == ("typing-extensions", 0)
    assert (doc.runtime, doc.optional, doc.dev, doc.peer) == ([], [], [], [])
    assert (doc.license, doc.homepage, doc.repository) == (
        "PSF-2.0", "https://github.com/python/typing_extensions", "https://github.com/python/typing_extensions",
    )  # fmt: skip
    assert doc.author == Person(
        name="Guido van Rossum, Jukka Lehtosalo, Łukasz Langa, Michael Lee", email="levkivskyi@gmail.com"
    )


def test_parse_project_pytz_legacy_versions_follow_valid_ones() -> None:
    """pytz: all 126 kept; '2013b'-style (PEP 440 prereleases) sit among valid ones, the 45 legacy follow."""
    bundle = project("pytz")
    versions = versions_of(bundle)
    assert len(versions) == 126
    assert versions[:4] == ["2026.6", "2026.5", "2026.4", "2026.3.post1"]
    start = versions.index("2013.6")
    assert versions[start : start + 17] == [
        "2013.6", "2013b", "2012c", "2012b", "2011c", "2011b", "2010b", "2009r", "2009a", "2008c", "2008b",
        "2008a", "2007c", "2005r", "2005a", "2004b.2", "2004b",
    ]  # fmt: skip
    legacy = versions[-45:]
    assert legacy[:5] == ["2013d", "2012j", "2012h", "2012g", "2012f"]
    assert legacy[-6:] == ["2006g", "2005m", "2005k", "2005i", "2005e", "2004d"]
    entries = {e.version: e for e in bundle.index.entries()}
    assert (entries["2013b"].prerelease, entries["2009r"].prerelease) == (True, False)


def test_parse_project_sympy_invalid_version_without_files() -> None:
    """sympy's '0.5.13-hg' (not PEP 440, no files) is kept, last."""
    bundle = project("sympy")
    assert bundle.index.entries()[-1] == VersionEntry(version="0.5.13-hg", prerelease=True)
    assert [e.version for e in bundle.index.entries() if e.yanked] == [
        "1.12.1a4",
        "1.12.1a3",
        "1.12.1a2",
        "1.12.1a1",
    ]


def test_parse_project_without_ownership() -> None:
    """No `ownership` (mirrors, older APIs): no accounts, a note, and the people the metadata declares."""
    body = load("pypi/requests.json")
    del body["ownership"]
    index = parse_project(body, f"{BASE}pypi/requests/json").index
    assert (index.maintainers, index.organization, index.notes) == ([], None, [NO_OWNERS])
    assert index.declared == [
        Person(name="Ian Stapleton Cordasco", email="graffatcolmingov@gmail.com", role="maintainer"),
        Person(name="Nate Prewitt", email="nate.prewitt@gmail.com", role="maintainer"),
        Person(name="Kenneth Reitz", email="me@kennethreitz.org", role="author"),
    ]


# -- licences, URLs, dependencies ------------------------------------------------------------


_MIT_TEXT = "MIT License\n\nCopyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge, ..."


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"license_expression": "MIT OR Apache-2.0", "license": "MIT"}, "MIT OR Apache-2.0"),
        ({"license": "Apache 2.0", "classifiers": ["License :: OSI Approved :: MIT License"]}, "Apache 2.0"),
        ({"license": _MIT_TEXT, "classifiers": ["License :: OSI Approved :: BSD License"]}, "BSD License"),
        (
            {"license": "x" * 150, "classifiers": ["License :: OSI Approved :: ISC License (ISCL)"]},
            "ISC License (ISCL)",
        ),
        ({"license": "UNKNOWN", "classifiers": ["License :: OSI Approved :: MIT License"]}, "MIT License"),
        ({"license": "", "classifiers": ["License :: OSI Approved"]}, "OSI Approved"),
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: Apache Software License",
                ]
            },
            "MIT License OR Apache Software License",
        ),
        ({"license": _MIT_TEXT}, "MIT License"),
        ({}, None),
    ],
)
def test_license_of_sources(info: dict[str, Any], expected: str | None) -> None:
    """PEP 639 expression, then a short License, then classifiers; a pasted licence text is never the answer."""
    assert license_of(info) == expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"project_urls": {"Source": "https://github.com/psf/requests"}}, "https://github.com/psf/requests"),
        ({"project_urls": {"Repository": "https://gitlab.com/u/r.git"}}, "https://gitlab.com/u/r"),
        ({"project_urls": {"Source Code": "https://github.com/u/r"}}, "https://github.com/u/r"),
        ({"project_urls": {"Code": "https://codeberg.org/u/r"}}, "https://codeberg.org/u/r"),
        ({"home_page": "https://github.com/boto/botocore"}, "https://github.com/boto/botocore"),
        (
            {"home_page": "https://example.org", "project_urls": {"Issues": "https://github.com/u/r/issues"}},
            "https://github.com/u/r",
        ),
        (
            {
                "project_urls": {
                    "Funding": "https://github.com/sponsors/someone",
                    "Tracker": "https://github.com/u/r/issues",
                }
            },
            "https://github.com/u/r",
        ),
        (
            {
                "home_page": "https://example.org",
                "project_urls": {"Documentation": "https://r.readthedocs.io"},
            },
            None,
        ),
        ({}, None),
    ],
)
def test_repository_of_sources(info: dict[str, Any], expected: str | None) -> None:
    """Source/Repository/Code project URLs first, then a GitHub-like home page or project URL cut to owner/repo."""
    assert repository_of(info) == expected


def test_dependencies_of_splits_runtime_and_extras() -> None:
    """No extra → a runtime row with its requirement as written; an extra → its line (without the extra
    clause) under that extra; dev-like extras are named in dev_extras."""
    found, notes = dependencies_of(
        [
            "idna<4,>=2.5",
            'tzdata; sys_platform == "win32"',
            "charset_normalizer (<4,>=2)",
            'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
            'pytest>=7; extra == "tests"',
            'sphinx; extra == "docs"',
            'mypy; extra == "typing"',
            'coverage[toml]>=7; extra == "dev"',
            "not a requirement (((",
        ]
    )
    assert found == {
        "runtime": [
            Dependency(name="idna", requirement="<4,>=2.5"),
            Dependency(name="tzdata", marker='sys_platform == "win32"'),
            Dependency(name="charset_normalizer", requirement="<4,>=2"),
        ],
        "extras": {
            "socks": ["PySocks!=1.5.7,>=1.5.6"],
            "tests": ["pytest>=7"],
            "docs": ["sphinx"],
            "typing": ["mypy"],
            "dev": ["coverage[toml]>=7"],
        },
        "dev_extras": ["tests", "docs", "typing", "dev"],
    }
    assert notes == [NOTE_DEV, "1 requirement line(s) that are not valid PEP 508 were left out"]


def test_dependencies_of_keeps_the_order_the_package_wrote() -> None:
    """'>=1.31.0,<3.0' stays as written (packaging would re-order it to '<3.0,>=1.31.0')."""
    found, _ = dependencies_of(["huggingface-hub>=1.31.0,<3.0", 'x[a,b] >=1 ,<2; extra == "e"'])
    assert found["runtime"] == [Dependency(name="huggingface-hub", requirement=">=1.31.0,<3.0")]
    assert found["extras"] == {"e": ["x[a,b] >=1 ,<2"]}


@pytest.mark.parametrize(
    ("line", "extra", "written"),
    [
        ('chardet; extra == "Use_Chardet.On-Py3"', "use-chardet-on-py3", "chardet"),
        (
            "chardet (<6,>=3.0.2) ; extra == 'use_chardet_on_py3'",
            "use-chardet-on-py3",
            "chardet (<6,>=3.0.2)",
        ),
        ('x; python_version < "3.8" and extra == "x"', "x", 'x; python_version < "3.8"'),
        ('x; extra == "x" and python_version < "3.8"', "x", 'x; python_version < "3.8"'),
        (
            'x; python_version >= "3.8" and extra == "x" and sys_platform != "win32"',
            "x",
            'x; python_version >= "3.8" and sys_platform != "win32"',
        ),
        (
            'x; (python_version < "3.8" or sys_platform == "win32") and extra == "x"',
            "x",
            'x; (python_version < "3.8" or sys_platform == "win32")',
        ),
        ('x; (extra == "x")', "x", "x"),
        ('x; "x" == extra', "x", "x"),
    ],
)
def test_dependencies_of_extra_normalized_and_removed_from_marker(
    line: str, extra: str, written: str
) -> None:
    """The extra is PEP 685-normalized and its clause (with its 'and') leaves the line."""
    found, _ = dependencies_of([line])
    assert found["extras"] == {extra: [written]} and found["runtime"] == []


def test_dependencies_of_tangled_extra_markers_are_not_runtime() -> None:
    """`extra == "test" or extra == "dev"` still needs an extra: not runtime, and the marker is kept whole."""
    found, _ = dependencies_of(['pytest; extra == "test" or extra == "dev"', 'x; extra != "x"'])
    assert found["extras"] == {"test": ['pytest; extra == "test" or extra == "dev"']}
    assert found["runtime"] == [Dependency(name="x", marker='extra != "x"')]


@pytest.mark.parametrize(
    ("line", "written"),
    [
        ('x; (python_version < "3.8" and extra == "a") or sys_platform == "win32"', "top-level or"),
        ('x; (extra == "a" or python_version < "3.8") and sys_platform == "win32"', "clause in parentheses"),
    ],
)
def test_dependencies_of_nested_extra_clause_keeps_the_marker_whole(line: str, written: str) -> None:
    """An extra clause under 'or' or inside parentheses cannot be split off: the line keeps its marker."""
    found, _ = dependencies_of([line])
    [(extra, [kept])] = found["extras"].items()
    assert extra == "a" and kept.startswith("x; ") and 'extra == "a"' in kept, written


def test_dependencies_of_parentheses_in_quotes_do_not_nest() -> None:
    """A parenthesis inside a quoted value is text: the clause after it still leaves the marker."""
    found, _ = dependencies_of(['x; platform_release == "5.4 (lts" and extra == "a"'])
    assert found["extras"] == {"a": ['x; platform_release == "5.4 (lts"']}


def test_dependencies_of_null_and_markers_without_extras() -> None:
    """`requires_dist: null` is no dependencies; a marker without an extra stays whole on a runtime dependency."""
    assert dependencies_of(None) == ({"runtime": [], "extras": {}, "dev_extras": []}, [NOTE_DEV])
    found, _ = dependencies_of(['backports.zoneinfo; python_version < "3.9" and platform_system != "Linux"'])
    assert found["runtime"] == [
        Dependency(name="backports.zoneinfo", marker='python_version < "3.9" and platform_system != "Linux"')
    ]


# -- version plan ----------------------------------------------------------------------------


def test_version_doc_plan_per_version_json(pypi: PyPI) -> None:
    """The documented per-version JSON (with a vulnerability) gives the complete document."""
    plan = pypi.version_doc("requests", "2.31.0")
    assert next(plan) == Fetch(url="https://pypi.org/pypi/requests/2.31.0/json", service="PyPI")
    doc = finish(plan, load("documented/pypi-version.json"))
    assert doc == VersionDoc(
        registry="pypi",
        name="requests",
        version="2.31.0",
        released="2023-05-22T15:12:42Z",
        summary="Python HTTP for Humans.",
        license="Apache 2.0",
        homepage="https://requests.readthedocs.io",
        repository="https://github.com/psf/requests",
        author=Person(name="Kenneth Reitz", email="me@kennethreitz.org"),
        yanked=False,
        engines={"python": ">=3.7"},
        artifacts=[
            Artifact(
                filename="requests-2.31.0.tar.gz",
                url=FILES
                + "9d/be/10918a2eac4ae9f02f6cfe6414b7a155ccd8f7f9d4380d62fd5b955065c3/requests-2.31.0.tar.gz",
                size=110794,
                digest="sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1",
                kind="sdist",
            ),
            Artifact(
                filename="requests-2.31.0-py3-none-any.whl",
                url=FILES
                + "70/8e/0e2d847013cb52cd35b38c009bb167a1a26b2ce6cd6965bf26b47bc0bf44/requests-2.31.0-py3-none-any.whl",
                size=62574,
                digest="sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f",
                kind="wheel",
            ),
        ],
        vulnerabilities=[
            Vulnerability(
                id="GHSA-9wx4-h78v-vm56",
                aliases=["CVE-2024-35195"],
                summary="Session keeps verify=False for a host once set",
                fixed=["2.32.0"],
            )
        ],
        runtime=[
            Dependency(name="charset-normalizer", requirement="<4,>=2"),
            Dependency(name="idna", requirement="<4,>=2.5"),
            Dependency(name="urllib3", requirement="<3,>=1.21.1"),
            Dependency(name="certifi", requirement=">=2017.4.17"),
        ],
        extras={
            "socks": ["PySocks (!=1.5.7,>=1.5.6)"],
            "use-chardet-on-py3": ["chardet (<6,>=3.0.2)"],
        },
        dependency_notes=[NOTE_DEV],
    )


def test_version_doc_plan_malformed_file_url_is_kept_as_written(pypi: PyPI) -> None:
    """A file URL urllib cannot resolve (an unclosed IPv6 bracket) is shown as the mirror wrote it, not a crash."""
    release = load("documented/pypi-version.json")
    release["urls"][0]["url"] = "http://[::1/requests-2.31.0.tar.gz"
    plan = pypi.version_doc("requests", "2.31.0")
    next(plan)
    doc = finish(plan, release)
    assert [a.url for a in doc.artifacts] == ["http://[::1/requests-2.31.0.tar.gz", release["urls"][1]["url"]]


DJANGO_42_WHEEL = (
    FILES + "d9/40/6012f98b14b64b4d3dc47b0c2f116fccbd0795ab35515d0c40dac73b81b8/Django-4.2-py3-none-any.whl"
)
DJANGO_42_ARTIFACTS = [
    Artifact(
        filename="Django-4.2-py3-none-any.whl",
        url=DJANGO_42_WHEEL,
        size=7988617,
        digest="sha256:ad33ed68db9398f5dfb33282704925bce044bef4261cd4fb59e4e7f9ae505a78",
        kind="wheel",
    ),
    Artifact(
        filename="Django-4.2.tar.gz",
        url=FILES + "9a/bb/48aa3e0850923096dff2766d21a6004d6e1a3317f0bd400ba81f586754e1/Django-4.2.tar.gz",
        size=10415665,
        digest="sha256:c36e2ab12824e2ac36afa8b2515a70c53c7742f0d6eaefa7311ec379558db997",
        kind="sdist",
    ),
]


def _django_42_plan(pypi: PyPI) -> Generator[Fetch, Any, Any]:
    """The version plan for Django 4.2, driven past the per-version 404 and the Simple API to the .metadata GET."""
    plan = pypi.version_doc("django", "4.2")
    release = next(plan)
    assert release.url == "https://pypi.org/pypi/django/4.2/json"
    listing = plan.throw(Missing(release))
    assert listing == Fetch(url="https://pypi.org/simple/django/", service="PyPI", accept=SIMPLE_JSON)
    metadata = plan.send(load("pypi/simple-django.json"))
    assert metadata == Fetch(url=DJANGO_42_WHEEL + ".metadata", service="PyPI", body="text", accept="*/*")
    return plan


def test_version_doc_plan_falls_back_to_simple_api_and_core_metadata(pypi: PyPI) -> None:
    """Per-version JSON 404 → Simple API files → the wheel's PEP 658 .metadata: a complete document."""
    doc = finish(_django_42_plan(pypi), load_text("pypi/Django-4.2-py3-none-any.whl.metadata"))
    assert doc == VersionDoc(
        registry="pypi",
        name="Django",
        version="4.2",
        released="2023-04-03T08:36:11Z",
        summary="A high-level Python web framework that encourages rapid development and clean, pragmatic design.",
        license="BSD-3-Clause",
        homepage="https://www.djangoproject.com/",
        repository="https://github.com/django/django",
        author=Person(name="Django Software Foundation", email="foundation@djangoproject.com"),
        yanked=False,
        engines={"python": ">=3.8"},
        artifacts=DJANGO_42_ARTIFACTS,
        runtime=[
            Dependency(name="asgiref", requirement="<4,>=3.6.0"),
            Dependency(name="sqlparse", requirement=">=0.3.1"),
            Dependency(name="backports.zoneinfo", marker='python_version < "3.9"'),
            Dependency(name="tzdata", marker='sys_platform == "win32"'),
        ],
        extras={"argon2": ["argon2-cffi (>=19.1.0)"], "bcrypt": ["bcrypt"]},
        notes=[NO_VULNERABILITY_DATA],
        dependency_notes=[NOTE_DEV],
    )


def test_version_doc_plan_without_core_metadata(pypi: PyPI) -> None:
    """The .metadata file 404s too: files, dates and Requires-Python from the Simple API, dependencies unknown."""
    doc = finish(_django_42_plan(pypi), throw=Missing(Fetch(DJANGO_42_WHEEL + ".metadata", "PyPI")))
    missing = "this release's own metadata is not available (no wheel with PEP 658 metadata)"
    assert doc == VersionDoc(
        registry="pypi",
        name="django",
        version="4.2",
        released="2023-04-03T08:36:11Z",
        yanked=False,
        engines={"python": ">=3.8"},
        artifacts=DJANGO_42_ARTIFACTS,
        notes=[missing, NO_VULNERABILITY_DATA],
        dependency_notes=["dependencies unknown: " + missing],
    )


def test_version_doc_plan_core_metadata_failure_is_partial(pypi: PyPI) -> None:
    """A failing .metadata GET (HTTP 503) degrades the answer to a partial one instead of failing it."""
    failure = UpstreamStatus("PyPI", DJANGO_42_WHEEL + ".metadata", 503)
    doc = finish(_django_42_plan(pypi), throw=failure)
    assert doc.partial is True
    assert (doc.runtime, doc.artifacts) == ([], DJANGO_42_ARTIFACTS)
    assert (
        doc.notes[0]
        == "this release's own metadata is not available (reading it failed: it answered HTTP 503)"
    )


def test_version_doc_plan_metadata_url_drops_hash_fragment(pypi: PyPI) -> None:
    """A Simple API file URL with '#sha256=…' gets '.metadata' on its path, not after the fragment."""
    simple = {
        "name": "tiny",
        "files": [
            {"filename": "tiny-1.0.tar.gz", "url": "../../files/tiny-1.0.tar.gz#sha256=aa", "hashes": {}},
            {
                "filename": "tiny-1.0-py3-none-any.whl",
                "url": "../../files/tiny-1.0-py3-none-any.whl#sha256=bb",
                "hashes": {},
            },
        ],
    }
    plan = pypi.version_doc("tiny", "1.0")
    plan.throw(Missing(next(plan)))
    metadata = plan.send(simple)
    assert metadata.url == "https://pypi.org/files/tiny-1.0-py3-none-any.whl.metadata"


def test_version_doc_plan_yanked_release_from_simple_api(pypi: PyPI) -> None:
    """Django 4.2.12 through the Simple API: `yanked` holds the reason string."""
    plan = pypi.version_doc("django", "4.2.12")
    plan.throw(Missing(next(plan)))
    metadata = plan.send(load("pypi/simple-django.json"))
    assert metadata.url.endswith("/Django-4.2.12-py3-none-any.whl.metadata")
    doc = finish(plan, throw=Missing(metadata))
    assert (doc.version, doc.yanked, doc.yanked_reason, doc.released) == (
        "4.2.12", True, DJANGO_EOL_REASON, "2024-05-06T16:41:14Z",
    )  # fmt: skip
    assert [a.filename for a in doc.artifacts] == ["Django-4.2.12-py3-none-any.whl", "Django-4.2.12.tar.gz"]


# -- downloads, resolve, nearby --------------------------------------------------------------


def test_downloads_plan_parses_recent(pypi: PyPI) -> None:
    """pypistats' recent body → day, week and month counts, whatever period was asked; the cached counts
    carry no note about the period (the service adds it per call)."""
    plan = pypi.downloads("requests", "last-week")
    assert next(plan) == Fetch(url="https://pypistats.org/api/packages/requests/recent", service="pypistats")
    result = finish(plan, load("documented/pypistats-recent.json"))
    assert result == DownloadsResult(
        registry="pypi",
        name="requests",
        source="pypistats recent downloads",
        counts=[
            DownloadCount(period="last-day", downloads=11873402),
            DownloadCount(period="last-week", downloads=90455120),
            DownloadCount(period="last-month", downloads=398114522),
        ],
        notes=[
            "PyPI counts come from pypistats, which reports only last-day, last-week and last-month totals",
        ],
    )


def test_downloads_plan_404_says_pypistats_has_no_counts(pypi: PyPI) -> None:
    """pypistats without data for the project means NotFound, saying whose counts are missing."""
    fetch = next(pypi.downloads("nope", "last-month"))
    assert isinstance(fetch.absent, NotFound)
    assert str(fetch.absent) == "pypistats has no download counts for the PyPI project 'nope'"


@pytest.fixture(scope="module")
def django_index() -> PackageIndex:
    return project("Django").index


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("4.2", "4.2"),
        ("4.2.0", "4.2"),
        ("v4.2", "4.2"),
        ("4.2.12", "4.2.12"),
        ("6.1.0rc1", "6.1rc1"),
        ("latest", "6.1.3"),
        ("4.2.99", None),
        ("nonsense", None),
    ],
)
def test_resolve_pep440_equivalents(
    pypi: PyPI, django_index: PackageIndex, requested: str, expected: str | None
) -> None:
    """PEP 440-equivalent spellings resolve to PyPI's own spelling; unknown versions do not."""
    assert pypi.resolve(django_index, requested) == expected


def test_resolve_non_normalized_recorded_version(pypi: PyPI) -> None:
    """requests has both '0.12.01' and '0.12.1' (equal under PEP 440): each spelling finds itself."""
    index = project("requests").index
    assert pypi.resolve(index, "0.12.01") == "0.12.01"
    assert pypi.resolve(index, "0.12.1") == "0.12.1"


def test_nearby_versions_around_a_missing_version(pypi: PyPI, django_index: PackageIndex) -> None:
    """The next higher release and the two below it; for a non-version, the newest three."""
    assert pypi.nearby(django_index, "4.2.99") == ["5.0a1", "4.2.30", "4.2.29"]
    assert pypi.nearby(django_index, "nonsense") == ["6.1.3", "6.1.2", "6.1.1"]
