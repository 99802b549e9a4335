"""Answers sized for an agent's context: every default answer under 4 KB, nothing dropped without a note
and an argument that shows it. Sizes are measured on recorded real documents, over an MCP client."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mcp_registries.budget import file_summary, pick_artifacts, platform_label
from mcp_registries.cache import NullCache
from mcp_registries.models import Artifact
from mcp_registries.server import build_server
from mcp_registries.service import Service

from .conftest import NPM, MockUpstream, data, make_settings, search_routes

pytestmark = pytest.mark.anyio

KB4 = 4096


@pytest.fixture
async def client(upstream: MockUpstream) -> AsyncIterator[Client]:
    service = Service(make_settings(), transport=upstream.transport(), cache=NullCache(), backoff=0.0)
    async with Client(build_server(service)) as connected:
        yield connected
    await service.aclose()


async def ask(client: Client, tool: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = result.content[0].text  # type: ignore[union-attr]
    return text, result.structured_content


def recorded(path: str) -> Any:
    return json.loads(data(path))


# The cases, and the largest recorded: the release with the most files (pydantic-core, 140), the
# project with the most extras (apache-airflow, 125) and the most requirements (ray, 285).
DEFAULT_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("version", {"registry": "pypi", "name": "numpy", "version": "2.0.0"}),
    ("version", {"registry": "pypi", "name": "pydantic-core", "version": "2.50.5"}),
    ("dependencies", {"registry": "pypi", "name": "transformers"}),
    ("dependencies", {"registry": "pypi", "name": "apache-airflow"}),
    ("dependencies", {"registry": "pypi", "name": "ray"}),
    ("dependencies", {"registry": "npm", "name": "next", "version": "15.0.0"}),
    ("package", {"registry": "npm", "name": "react"}),
    ("versions", {"registry": "npm", "name": "express"}),
    ("versions", {"registry": "pypi", "name": "botocore"}),
    ("maintainer", {"registry": "pypi", "name": "zope.interface"}),
    ("search", {"registry": "npm", "query": "http client"}),
    ("search", {"registry": "pypi", "query": "r"}),
]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    DEFAULT_CALLS,
    ids=[f"{t}-{a['registry']}-{a.get('name', a.get('query'))}" for t, a in DEFAULT_CALLS],
)
async def test_default_answer_is_under_4kb(
    client: Client, upstream: MockUpstream, tool: str, arguments: dict[str, Any]
) -> None:
    """The text block of a default answer stays under 4 KB, whatever the size of the document behind it."""
    upstream.routes.update(search_routes())
    text, _ = await ask(client, tool, **arguments)
    assert len(text.encode()) < KB4, len(text.encode())


# -- version: a summary of every file, a few files, and every file on request ------------------------


def _release_files(name: str, version: str) -> list[dict[str, Any]]:
    if name == "numpy":
        return [f for f in recorded("pypi/simple-numpy.json")["files"] if f"-{version}" in f["filename"]]
    return recorded(f"pypi/{name}.json")["urls"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "version"), [("numpy", "2.0.0"), ("pydantic-core", "2.50.5")])
async def test_version_summarises_every_file_and_lists_five(client: Client, name: str, version: str) -> None:
    """Five artifacts (the sdist first), a summary counting every file, and a note naming files='all'."""
    files = _release_files(name, version)
    _, answer = await ask(client, "version", registry="pypi", name=name, version=version)
    summary = answer["files"]
    assert summary["count"] == len(files)
    assert summary["total_size"] == sum(f["size"] for f in files)
    assert summary["sdist"] is any(f["filename"].endswith(".tar.gz") for f in files)
    assert len(answer["artifacts"]) == 5
    assert answer["artifacts"][0]["kind"] == "sdist"
    assert f"{len(files)} files; artifacts lists 5" in " ".join(answer["notes"])
    assert "files='all'" in " ".join(answer["notes"])


@pytest.mark.parametrize(("name", "version"), [("numpy", "2.0.0"), ("pydantic-core", "2.50.5")])
async def test_version_files_all_pages_through_every_file(client: Client, name: str, version: str) -> None:
    """files='all' returns every file of the recorded release across its pages, each once."""
    expected = {f["filename"]: f["size"] for f in _release_files(name, version)}
    seen: dict[str, int] = {}
    page = 1
    while True:
        _, answer = await ask(
            client,
            "version",
            registry="pypi",
            name=name,
            version=version,
            files="all",
            page=page,
            page_size=40,
        )
        for artifact in answer["artifacts"]:
            assert artifact["filename"] not in seen
            seen[artifact["filename"]] = artifact["size"]
        if not answer["artifacts"]:
            break
        page += 1
    assert seen == expected
    assert page == -(-len(expected) // 40) + 1


async def test_version_summary_names_tags_and_platforms_as_people_say_them(client: Client) -> None:
    """numpy 2.0.0: CPython 3.9-3.12 and PyPy tags, and its platforms in plain words."""
    _, answer = await ask(client, "version", registry="pypi", name="numpy", version="2.0.0")
    summary = answer["files"]
    assert summary["python"] == ["cp39", "cp310", "cp311", "cp312", "pp39"]
    assert {
        "manylinux x86_64",
        "manylinux aarch64",
        "macosx arm64",
        "macosx x86_64",
        "win amd64",
        "win32",
    } <= set(summary["platforms"])


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ("manylinux_2_17_x86_64", "manylinux x86_64"),
        ("manylinux2014_aarch64", "manylinux aarch64"),
        ("musllinux_1_1_x86_64", "musllinux x86_64"),
        ("macosx_11_0_arm64", "macosx arm64"),
        ("macosx_10_9_universal2", "macosx universal2"),
        ("win_amd64", "win amd64"),
        ("win32", "win32"),
        ("any", "any"),
        ("linux_armv7l", "linux armv7l"),
    ],
)
def test_platform_label_reads_as_a_person_says_it(tag: str, label: str) -> None:
    """Wheel platform tags lose their version numbers: family and architecture only."""
    assert platform_label(tag) == label


def test_pick_artifacts_prefers_the_sdist_then_general_wheels() -> None:
    """The sdist, the pure wheel, then one wheel per common platform, newest Python first."""

    def wheel(tag: str) -> Artifact:
        return Artifact(filename=f"x-1.0-{tag}.whl", kind="wheel")

    files = [
        wheel("cp311-cp311-win_amd64"),
        wheel("cp312-cp312-manylinux_2_17_x86_64"),
        wheel("cp311-cp311-manylinux_2_17_x86_64"),
        wheel("py3-none-any"),
        Artifact(filename="x-1.0.tar.gz", kind="sdist"),
        wheel("cp312-cp312-macosx_11_0_arm64"),
        wheel("cp312-cp312-musllinux_1_1_ppc64le"),
    ]
    assert [a.filename for a in pick_artifacts(files)] == [
        "x-1.0.tar.gz",
        "x-1.0-py3-none-any.whl",
        "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "x-1.0-cp312-cp312-macosx_11_0_arm64.whl",
        "x-1.0-cp311-cp311-win_amd64.whl",
    ]
    summary = file_summary(files)
    assert summary is not None and (summary.count, summary.total_size, summary.sdist) == (7, None, True)
    assert summary.python == ["cp311", "cp312", "py3"]


# -- dependencies: extras as counts past the limit, every one reachable ------------------------------


def _extras_of(name: str) -> dict[str, list[str]]:
    """The recorded requires_dist grouped by the extra its marker names (PEP 685-normalized)."""
    found: dict[str, list[str]] = {}
    for line in recorded(f"pypi/{name}.json")["info"]["requires_dist"]:
        match = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", line)
        if match:
            found.setdefault(canonicalize_name(match.group(1)), []).append(Requirement(line).name)
    return found


@pytest.mark.parametrize("name", ["transformers", "apache-airflow", "ray"])
async def test_dependencies_extras_are_counted_and_each_reachable(client: Client, name: str) -> None:
    """Past 4 KB, extras become the count of their requirements, a note says so, and extra=<name> lists
    each one in full: together they hold every requirement of the recorded document."""
    expected = _extras_of(name)
    _, answer = await ask(client, "dependencies", registry="pypi", name=name)
    assert set(answer["extras"]) == set(expected)
    counted = [extra for extra, value in answer["extras"].items() if isinstance(value, int)]
    assert counted, "this document is large enough to need counts"
    assert any(f"{len(counted)} of {len(expected)} extras shown as the count" in n for n in answer["notes"])
    for extra, value in answer["extras"].items():
        if isinstance(value, int):
            assert value == len(expected[extra])
            _, full = await ask(client, "dependencies", registry="pypi", name=name, extra=extra)
            lines = full["extras"][extra]
        else:
            lines = value
        assert [Requirement(line).name for line in lines] == expected[extra]


async def test_dependencies_npm_group_is_reachable(client: Client) -> None:
    """next 15.0.0: its 201 devDependencies leave the default answer with a note; group='dev' lists them
    with the requirements the package wrote."""
    manifest = recorded("npm/next@15.0.0.json")
    _, answer = await ask(client, "dependencies", registry="npm", name="next", version="15.0.0")
    assert answer["dev"] == []
    assert "dev: 201 dependencies left out to stay under 4 KB; group='dev' lists them" in answer["notes"]
    assert {row["name"]: row["requirement"] for row in answer["runtime"]} == manifest["dependencies"]
    _, full = await ask(client, "dependencies", registry="npm", name="next", version="15.0.0", group="dev")
    assert {row["name"]: row["requirement"] for row in full["dev"]} == manifest["devDependencies"]


@pytest.mark.parametrize("name", ["transformers", "ray", "apache-airflow"])
async def test_dependencies_requirements_are_as_written(client: Client, name: str) -> None:
    """Each runtime requirement is the text its recorded line carries, not packaging's re-ordering."""
    written = recorded(f"pypi/{name}.json")["info"]["requires_dist"]
    # Each line without an extra, as written: the name, then the requirement up to the marker.
    expected = [
        (Requirement(line).name, line.split(";")[0][len(Requirement(line).name) :].strip())
        for line in written
        if "extra ==" not in line
    ]
    _, answer = await ask(client, "dependencies", registry="pypi", name=name, group="runtime")
    assert [(row["name"], row.get("requirement", "")) for row in answer["runtime"]] == expected


async def test_dependencies_unknown_extra_is_one_sentence(client: Client) -> None:
    """An extra the release does not have is an error that lists the extras it has."""
    result = await client.call_tool(
        "dependencies", {"registry": "pypi", "name": "transformers", "extra": "nope"}
    )
    assert result.is_error
    assert (
        "'nope' is not an extra of transformers 5.24.0; its extras: torch, vision" in result.content[0].text
    )  # type: ignore[union-attr]


# -- versions: a page of long version strings stays under the limit --------------------------------


def _long_versions_packument(count: int) -> bytes:
    versions = [f"19.3.0-canary-{n:08x}-2026{1 + n % 12:02d}{1 + n % 28:02d}" for n in range(count)]
    times = {"created": "2013-05-29T20:16:15.000Z", "modified": "2026-11-01T00:00:00.000Z"}
    times |= {v: f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00.000Z" for n, v in enumerate(versions)}
    manifests = {v: {"name": "canaries", "version": v} for v in versions}
    body = {"name": "canaries", "dist-tags": {"latest": versions[0]}, "time": times, "versions": manifests}
    return json.dumps(body).encode()


async def test_versions_default_page_drops_dates_past_the_limit(
    client: Client, upstream: MockUpstream
) -> None:
    """50 long canary versions with dates pass 4 KB: the default page drops the dates and says so; a page_size
    the caller gives keeps them."""
    upstream.routes[NPM + "canaries"] = (200, _long_versions_packument(120))
    text, answer = await ask(client, "versions", registry="npm", name="canaries")
    assert len(text.encode()) < KB4
    assert len(answer["versions"]) == 50 and all("released" not in entry for entry in answer["versions"])
    assert any(n.startswith("release dates of these 50 versions left out") for n in answer["notes"])
    _, asked = await ask(client, "versions", registry="npm", name="canaries", page_size=50)
    assert all(entry["released"] for entry in asked["versions"])


# -- package and maintainer agree -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "name", "source"),
    [
        ("pypi", "django", "declared in package metadata"),
        ("pypi", "requests", "registry accounts"),
        ("pypi", "zope.interface", "registry accounts"),
        ("npm", "express", "declared in package metadata"),
    ],
)
async def test_package_and_maintainer_name_the_same_people(
    client: Client, registry: str, name: str, source: str
) -> None:
    """package lists the first of the people maintainer lists (accounts, or the declared people when the
    registry has none, as in the mirror's Django document), so the two tools never disagree."""
    _, package = await ask(client, "package", registry=registry, name=name)
    _, maintainer = await ask(client, "maintainer", registry=registry, name=name)
    assert maintainer["source"] == source
    assert maintainer["maintainers"], "every one of these recorded packages names someone"
    assert package["maintainers"] == maintainer["maintainers"][:5]


# -- search: ten results with their summaries ----------------------------------------------------


def _long_search_answer(count: int) -> bytes:
    """npm's search answer with `count` long-named results whose descriptions are paragraphs."""
    objects = [
        {
            "package": {
                "name": f"@some-organisation/a-rather-long-package-name-for-result-{n}",
                "version": f"{n}.0.0-beta.{n}",
                "description": f"Result {n}: " + "a description that goes on and on about what it does " * 8,
                "date": "2026-11-01T10:00:00.000Z",
            },
            "score": {"final": 0.5, "detail": {"quality": 0.5, "popularity": 0.5, "maintenance": 0.5}},
            "searchScore": 1.0,
        }
        for n in range(count)
    ]
    return json.dumps({"objects": objects, "total": 900, "time": "2026-11-29T12:00:00.000Z"}).encode()


async def test_search_default_page_shortens_summaries_past_the_limit(
    client: Client, upstream: MockUpstream
) -> None:
    """Ten results with long names and paragraph-long summaries pass 4 KB: the default page shortens the
    summaries and says so, keeping every result; a page_size the caller gives keeps them whole."""
    search = NPM + "-/v1/search?text=long&size=10&from=0"
    upstream.routes[search] = (200, _long_search_answer(10))
    text, answer = await ask(client, "search", registry="npm", query="long")
    assert len(text.encode()) < KB4, len(text.encode())
    assert [hit["name"] for hit in answer["results"]] == [
        f"@some-organisation/a-rather-long-package-name-for-result-{n}" for n in range(10)
    ]
    assert all(hit["summary"].startswith(f"Result {n}: ") for n, hit in enumerate(answer["results"]))
    assert any("summaries" in note and "4 KB" in note for note in answer["notes"]), answer["notes"]
    _, asked = await ask(client, "search", registry="npm", query="long", page_size=10)
    # Whole, as the registry adapters keep any summary: at most 300 characters.
    assert all(290 < len(hit["summary"]) <= 300 for hit in asked["results"])
    assert all(len(hit["summary"]) <= 100 for hit in answer["results"])
    assert upstream.hits[search] == 2
