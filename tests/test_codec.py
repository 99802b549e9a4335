"""Records for the shared cache: every kind of value the service caches comes back equal, and bytes that
are not a record this version wrote come back as `Unreadable`, never as anything else."""

from __future__ import annotations

import json
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_registries import codec
from mcp_registries.cache import Entry, NullCache
from mcp_registries.errors import RegistryError
from mcp_registries.fetching import Absent, Validators
from mcp_registries.osv import Advisory, Affects, Batch
from mcp_registries.service import Service

from .conftest import MockUpstream, make_settings, search_routes
from .test_shared import QUESTIONS

pytestmark = pytest.mark.anyio


class Recorder(NullCache):
    """A cache that keeps nothing and records every value it is handed."""

    def __init__(self) -> None:
        self.values: list[tuple[str, Any, float, Any]] = []

    async def set(self, key: str, value: Any, ttl: float, validators: Any = None) -> None:
        self.values.append((key, value, ttl, validators))


async def cached_values() -> list[tuple[str, Any, float, Any]]:
    """What the service hands its cache while answering every kind of question (search included)."""
    upstream = MockUpstream()
    upstream.routes.update(search_routes())
    recorder = Recorder()
    service = Service(make_settings(Path("/nonexistent")), transport=upstream.transport(), cache=recorder)
    try:
        for operation, arguments in [*QUESTIONS, ("search", {"registry": "pypi", "query": "requests"})]:
            try:
                await service.call(operation, arguments)
            except RegistryError:
                pass
        await service.searcher.project_names.get()
    finally:
        await service.aclose()
    return recorder.values


def same(a: Any, b: Any) -> bool:
    """Equal values; errors (compared by identity in Python) by class and fields; buffers by content."""
    if isinstance(a, Absent):
        return isinstance(b, Absent) and type(a.error) is type(b.error) and vars(a.error) == vars(b.error)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(bytes(x) == bytes(y) for x, y in zip(a, b))
    return bool(a == b)


async def test_every_value_the_service_caches_comes_back_equal() -> None:
    values = await cached_values()
    kinds = set()
    for key, value, ttl, validators in values:
        entry = Entry(value=value, stored_at=1_700_000_000.5, ttl=ttl, validators=validators)
        back = codec.decode(codec.encode(entry))
        assert same(back.value, value), key
        assert type(back.value) is type(value)
        assert (back.stored_at, back.ttl, back.validators) == (entry.stored_at, ttl, validators)
        kinds.add(key.split("|")[0])
    assert kinds >= {"index", "version", "downloads", "names"}, kinds
    assert any(isinstance(value, Absent) for _, value, _, _ in values)


def test_osv_documents_and_validators_come_back_equal() -> None:
    advisory = Advisory(
        id="GHSA-xxxx-yyyy-zzzz",
        aliases=["CVE-2024-0001"],
        summary="a summary",
        cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        packages={"npm|express": Affects(fixed=["4.19.2"], rating="HIGH")},
    )
    for value in (Batch(ids=[["GHSA-xxxx-yyyy-zzzz"], []], unfinished=1), advisory):
        entry = Entry(value=value, stored_at=5.0, ttl=86400, validators=Validators('"etag"', "Tue, 1 Jan"))
        assert codec.decode(codec.encode(entry)) == entry


def test_columns_keep_their_type_and_are_swapped_from_another_byte_order() -> None:
    column = array("I", [1, 2, 70000])
    record = codec.encode(Entry(value=(b"keys", bytearray(b"names"), column), stored_at=1.0, ttl=2.0))
    back = codec.decode(record).value
    assert back[0] == b"keys" and back[1] == b"names" and back[2] == column and isinstance(back[2], array)
    other = "big" if __import__("sys").byteorder == "little" else "little"
    swapped = record.replace(b'"byteorder": "', f'"byteorder": "{other}", "was": "'.encode(), 1)
    assert codec.decode(swapped).value[2] == array(
        "I", [1 << 24, 2 << 24, int.from_bytes((70000).to_bytes(4, "little"), "big")]
    )


def test_large_documents_are_compressed_and_small_ones_are_not() -> None:
    from mcp_registries.models import DownloadCount, DownloadsResult

    small = DownloadsResult(registry="npm", name="a", source="npm", counts=[])
    large = small.model_copy(
        update={
            "counts": [
                DownloadCount(period="last-day", downloads=n, start="2024-01-01", end="2024-01-02")
                for n in range(500)
            ]
        }
    )
    for value, packed in ((small, False), (large, True)):
        record = codec.encode(Entry(value=value, stored_at=1.0, ttl=2.0))
        header = json.loads(record[len(codec.MAGIC) : record.index(b"\n", len(codec.MAGIC))])
        assert header.get("zlib", False) is packed
        assert codec.decode(record).value == value


@pytest.mark.parametrize("value", [object(), {"a": 1}, [1, 2], Absent(RuntimeError("x"))])  # type: ignore[arg-type]
def test_values_of_unknown_kinds_are_refused(value: Any) -> None:
    with pytest.raises(codec.Unshareable):
        codec.encode(Entry(value=value, stored_at=1.0, ttl=2.0))


HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from([*codec.DOCUMENTS, "not-found", "buffers", "pickle"]) | st.text(max_size=5),
        "stored_at": st.floats() | st.text(max_size=3) | st.none(),
        "ttl": st.floats() | st.integers(),
        "zlib": st.booleans(),
        "etag": st.text(max_size=5) | st.integers(),
        "parts": st.lists(
            st.tuples(
                st.sampled_from(["bytes", "array", "x"]),
                st.sampled_from(["I", "d", None]),
                st.integers(-2, 9),
            )
        ),
        "byteorder": st.sampled_from(["big", "little"]),
    },
)


@given(
    header=HEADERS | st.lists(st.integers()) | st.text(max_size=5),
    body=st.binary(max_size=64)
    | st.sampled_from(
        [b'{"class": "PackageNotFound", "message": "m", "fields": {"x": {"y": 1}}}', b"{}", b"[]", b"null"]
    ),
)
def test_any_bytes_read_back_as_an_entry_or_as_unreadable(header: Any, body: bytes) -> None:
    for record in (codec.MAGIC + json.dumps(header).encode() + b"\n" + body, body, codec.MAGIC + body):
        try:
            entry = codec.decode(record)
        except codec.Unreadable:
            continue
        assert isinstance(entry, Entry)


async def test_every_truncation_of_a_record_is_unreadable_or_equal() -> None:
    values = [v for v in await cached_values() if not isinstance(v[1], tuple)]
    key, value, ttl, validators = min(values, key=lambda v: len(codec.encode(Entry(v[1], 1.0, v[2], v[3]))))
    record = codec.encode(Entry(value=value, stored_at=1.0, ttl=ttl, validators=validators))
    for cut in range(len(record)):
        try:
            back = codec.decode(record[:cut])
        except codec.Unreadable:
            continue
        assert same(back.value, value), (key, cut)
