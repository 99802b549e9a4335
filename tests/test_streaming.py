"""Documents read while they stream in give the same index as the whole body decoded at once, however
the body is cut into chunks and segments (npm packuments, PyPI project JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_registries.registries.npm import index_of
from mcp_registries.registries.packument import Packument, PackumentReader, read_packument
from mcp_registries.registries.pypi_json import project_index
from mcp_registries.registries.pypi_reader import ProjectReader
from mcp_registries.registries.streaming import SegmentedReader

from .conftest import PROFILE, parse_packument, parse_project

DATA = Path(__file__).parent / "data"
RECORDED = ["npm/react.json", "npm/express.json", "npm/@types__node.json", "npm/ms.json", "npm/shelljs.json"]


def fed(reader: SegmentedReader, body: bytes, chunks: list[int]) -> Any:
    """What the reader makes of `body` arriving in chunks of these sizes (and the rest in one)."""
    at = 0
    for size in chunks:
        reader.feed(body[at : at + size])
        at += size
    reader.feed(body[at:])
    return reader.finish()


def streamed(body: bytes, chunks: list[int], segment: int) -> Packument | bytearray:
    return fed(PackumentReader(segment=segment), body, chunks)  # type: ignore[no-any-return]


def tricky() -> bytes:
    """Deprecations in several places, a decoy cut inside a manifest, a legacy key, keys in odd order."""
    versions: dict[str, Any] = {}
    for minor in range(40):
        manifest: dict[str, Any] = {"name": "tricky", "version": f"1.{minor}.0", "dependencies": {"a": "^1"}}
        if minor % 7 == 3:
            manifest["deprecated"] = f"1.{minor}.0 is broken"
        if minor == 11:
            manifest["deprecated"] = False
        if minor == 20:  # `}, "2.0.0": {` one level too deep: a cut there must not be trusted
            manifest["typesVersions"] = {"x": {"y": 1}, "2.0.0": {"z": ["a"]}}
        versions[f"1.{minor}.0"] = manifest
    versions["1.0.0beta"] = {"name": "tricky", "version": "1.0.0beta"}
    doc = {
        "_id": "tricky",
        "name": "tricky",
        "dist-tags": {"latest": "1.39.0", "next": "1.0.0beta"},
        "versions": versions,
        "time": {"created": "2020-01-01T00:00:00.000Z", **{v: "2021-01-01T00:00:00.000Z" for v in versions}},
        "maintainers": [{"name": "a", "email": "a@example.com"}],
        "description": "tricky",
    }
    return json.dumps(doc).encode()


BODIES = {path: (DATA / path).read_bytes() for path in RECORDED} | {"tricky": tricky()}


@PROFILE
@given(
    which=st.sampled_from(sorted(BODIES)),
    chunks=st.lists(st.integers(1, 40_000), max_size=30),
    segment=st.sampled_from([1, 300, 4096, 65_536, 256 * 1024]),
)
def test_streamed_read_gives_the_whole_body_index(which: str, chunks: list[int], segment: int) -> None:
    """Any chunking and segment size: the streamed read (or its fallback) indexes exactly as a whole read."""
    body = BODIES[which]
    read = streamed(body, chunks, segment)
    packument = read if isinstance(read, Packument) else read_packument(read)
    assert index_of(packument, "x") == parse_packument(body, "x")


@pytest.mark.parametrize("which", ["npm/react.json", "npm/express.json", "tricky"])
def test_big_enough_bodies_are_read_while_they_stream(which: str) -> None:
    """With segments smaller than the body, the reader keeps up and needs no whole-body decode."""
    body = BODIES[which]
    read = streamed(body, [8192] * (len(body) // 8192), 2048)
    assert isinstance(read, Packument)
    assert read.versions == list(json.loads(body)["versions"])
    whole = read_packument(body)
    assert set(read.deprecations) == {v for v, m in whole.deprecations.items()}


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "gone", "time": {"created": "2020-01-01T00:00:00.000Z", "unpublished": {"time": "2021"}}},
        {"name": "untagged", "versions": {"1.0.0": {"version": "1.0.0"}}},
        {"name": "stale-tag", "dist-tags": {"latest": "9.9.9"}, "versions": {"1.0.0": {"version": "1.0.0"}}},
        {"versions": {"1.0.0": {"version": "1.0.0"}}, "name": "late-tags", "dist-tags": {"latest": "1.0.0"}},
    ],
)
def test_documents_the_reader_cannot_follow_come_back_whole(doc: dict[str, Any]) -> None:
    """No versions, no latest tag, a tag naming no listed version, tags after the versions: the body comes
    back as it arrived, for a whole-body read."""
    body = json.dumps(doc).encode()
    assert streamed(body, [5] * (len(body) // 5), 1) == bytearray(body)


def test_a_body_that_is_not_json_comes_back_whole() -> None:
    body = b'{"name": "x", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {"version": "1.0.0"}, '
    assert streamed(body, [10, 10, 10], 1) == bytearray(body)


def test_a_cut_inside_a_manifest_is_caught_and_the_body_comes_back_whole() -> None:
    """`}, "2.0.0": {` inside a manifest looks like a boundary between versions; when the reader cuts there,
    the segment does not decode, and the whole body comes back rather than a wrong list."""
    body = BODIES["tricky"]
    decoy = body.index(b'}, "2.0.0": {') + 14
    read = streamed(body, [decoy], 1)
    assert read == bytearray(body)
    assert index_of(read_packument(read), "x") == parse_packument(body, "x")


# -- PyPI project JSON ---------------------------------------------------------------------------------

PROJECTS = {
    path: (DATA / path).read_bytes()
    for path in [
        "pypi/Django.json",
        "pypi/pytz.json",
        "pypi/requests.json",
        "pypi/botocore.json",
        "pypi/gitlab.json",
    ]
}
URL = "https://pypi.org/pypi/x/json"


def streamed_project(body: bytes, chunks: list[int], segment: int) -> Any:
    return fed(ProjectReader(segment=segment), body, chunks)


@PROFILE
@given(
    which=st.sampled_from(sorted(PROJECTS)),
    chunks=st.lists(st.integers(1, 40_000), max_size=30),
    segment=st.sampled_from([1, 300, 4096, 65_536, 256 * 1024]),
)
def test_streamed_project_gives_the_whole_body_index(which: str, chunks: list[int], segment: int) -> None:
    """Any chunking and segment size: the streamed project read (or its fallback) indexes as a whole read."""
    body = PROJECTS[which]
    read = streamed_project(body, chunks, segment)
    if isinstance(read, dict):
        assert project_index(read, URL) == parse_project(body, URL)
    else:
        assert read == bytearray(body)


@pytest.mark.parametrize("which", ["pypi/Django.json", "pypi/pytz.json", "pypi/requests.json"])
def test_big_enough_projects_are_read_while_they_stream(which: str) -> None:
    """With segments smaller than the body, the releases are read as they arrive."""
    body = PROJECTS[which]
    reader = ProjectReader(segment=2048)
    for at in range(0, len(body), 8192):
        reader.feed(body[at : at + 8192])
    during = len(reader.releases)
    read = reader.finish()
    assert isinstance(read, dict)
    assert 0 < during < len(read["releases"]) == len(json.loads(body)["releases"])


def test_a_project_without_releases_comes_back_as_the_whole_body_would_decode() -> None:
    """No `releases` member (it is deprecated): nothing to stream, the body comes back whole."""
    doc = json.loads(PROJECTS["pypi/requests.json"])
    del doc["releases"]
    body = json.dumps(doc).encode()
    assert streamed_project(body, [1000] * (len(body) // 1000), 1) == bytearray(body)
