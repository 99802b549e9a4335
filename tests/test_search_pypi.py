"""PyPI search and did-you-mean.

The project index is read in any chunking, from HTML or PEP 691 JSON; searched as SPEC ranks it, checked
against a brute-force oracle over the real index (927,088 names recorded from this machine's mirror); loaded
once per process, kept in the cache for a day, served stale with a note when PyPI fails; and a not-found
package error waits at most about a second for its suggestions while the index keeps loading.
"""

from __future__ import annotations

import json
import lzma
import re
import time
from collections.abc import AsyncIterator, Iterator
from itertools import takewhile
from pathlib import Path

import anyio
import pytest
from rapidfuzz import process
from rapidfuzz.distance import OSA

from mcp_registries.cache import DiskCache
from mcp_registries.errors import InvalidResponse, PackageNotFound, SearchUnavailable, UpstreamStatus
from mcp_registries.models import SearchResult
from mcp_registries.registries.pypi_names import LIKELY, POPULAR, Names, NamesReader
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from mcp_registries.similarity import max_distance
from tests.conftest import DATA, data, recorded_routes, server_settings
from tests.upstream import LoopbackUpstream, delayed, reply

pytestmark = pytest.mark.anyio

INDEX_PATH = "/pypi/simple/"
TRIMMED = data("pypi/simple-index-trimmed.html")


def html_index(names: list[str]) -> bytes:
    """The project index as PyPI writes it: one anchor a line, the href the PEP 503 name."""
    rows = [f'<a href="{re.sub(r"[-_.]+", "-", name).lower()}/">{name}</a>' for name in names]
    return ("<!DOCTYPE html><html><body>\n" + "\n".join(rows) + "\n</body></html>\n").encode()


def read(body: bytes, chunk: int = 65536) -> Names:
    reader = NamesReader()
    for at in range(0, len(body), chunk):
        reader.feed(body[at : at + chunk])
    return reader.finish().build()


def every_name(names: Names) -> list[str]:
    return [names.name(line) for line in range(len(names))]


# -- reading the index ------------------------------------------------------------------------


def test_reader_reads_every_anchor_of_the_recorded_page() -> None:
    anchors = re.findall(rb">([^<>]+)</a>", TRIMMED)
    names = read(TRIMMED)
    assert len(anchors) == 1981 == len(names)
    assert sorted(every_name(names)) == sorted(a.decode() for a in anchors)


@pytest.mark.parametrize("chunk", [1, 7, 100, 4097, len(TRIMMED)])
def test_reader_gives_the_same_index_whatever_the_chunking(chunk: int) -> None:
    assert read(TRIMMED, chunk).blobs() == read(TRIMMED).blobs()


def test_reader_reads_the_pep691_json_index() -> None:
    body = data("documented/pypi-simple-index-small.json")
    names = read(body, 50)
    assert sorted(every_name(names)) == sorted(re.findall(r'"name":"([^"]+)"', body.decode()))
    assert [hit.name for hit in names.search("Flask", 0, 2).hits] == ["Flask", "flask-login"]


def test_index_orders_keys_by_length_then_key_and_lines_up_with_names() -> None:
    names = read(TRIMMED)
    keys = [names.key(line) for line in range(len(names))]
    assert keys == sorted(keys, key=lambda key: (len(key), key))
    for line in range(0, len(names), 37):
        assert names.key(line) == re.sub(rb"[^a-z0-9]", b"", names.name(line).lower().encode())


def test_compact_form_round_trips_and_refuses_parts_that_do_not_fit() -> None:
    names = read(TRIMMED)
    again = Names.from_blobs(names.blobs())
    assert again.search("request", 0, 250) == names.search("request", 0, 250)
    keys, display, name_starts, suffix_order, *rest = names.blobs()
    # As the disk cache gives them back: bytes.
    columns = name_starts.tobytes(), suffix_order.tobytes()
    again = Names.from_blobs((bytes(keys), bytes(display), *columns, *rest))
    assert again.search("flask", 0, 9) == names.search("flask", 0, 9)
    with pytest.raises(ValueError, match="line up"):
        Names.from_blobs((keys, display, columns[0][:-4], columns[1], *rest))
    with pytest.raises(ValueError, match="line up"):
        Names.from_blobs((keys[:-2], display, *columns, *rest))
    with pytest.raises(ValueError, match="32-bit"):
        Names.from_blobs((keys, display, columns[0][:-1], columns[1], *rest))
    with pytest.raises(ValueError, match="six"):
        Names.from_blobs((keys, display, *columns))


# -- ranking, against a brute-force oracle over the real index ---------------------------------


@pytest.fixture(scope="module")
def real_names() -> list[str]:
    """Every project name of the real index (recorded 2026-11-29, see tests/data/README.md)."""
    return lzma.decompress((DATA / "pypi/simple-index-names.txt.xz").read_bytes()).decode().split("\n")[:-1]


@pytest.fixture(scope="module")
def real_index(real_names: list[str]) -> Names:
    return read(html_index(real_names))


def oracle(real_names: list[str], query: str) -> dict[str, set[str]]:
    """Each name's class for `query`, worked out the slow, obvious way."""
    key = re.sub(r"[^a-z0-9]", "", query.lower())
    keys = [re.sub(r"[^a-z0-9]", "", name.lower()) for name in real_names]
    classes: dict[str, set[str]] = {"exact": set(), "prefix": set(), "contains": set(), "similar": set()}
    for name, other in zip(real_names, keys, strict=True):
        if other == key:
            classes["exact"].add(name)
        elif other.startswith(key):
            classes["prefix"].add(name)
        elif key in other:
            classes["contains"].add(name)
    limit = max_distance(key)
    for _, distance, at in process.extract(key, keys, scorer=OSA.distance, score_cutoff=limit, limit=None):
        if key not in keys[at] and (distance == 1 or _keeps_a_third(key, keys[at])):
            classes["similar"].add(real_names[at])
    return classes


def _keeps_a_third(key: str, other: str) -> bool:
    """SPEC's similar step as built: two edits apart counts when the first or last third is intact."""
    third = len(key) // 3
    return other.startswith(key[:third]) or other.endswith(key[len(key) - third :])


@pytest.mark.parametrize(
    "query", ["requests", "Django REST framework", "reqeusts", "flaks", "nmupy", "pydantic", "http client"]
)
def test_search_finds_exactly_what_the_oracle_finds_in_rank_order(
    real_names: list[str], real_index: Names, query: str
) -> None:
    expected = oracle(real_names, query)
    found = real_index.search(query, 0, 5000)
    assert found.total == sum(len(names) for names in expected.values()) == len(found.hits)
    by_class: dict[str, set[str]] = {match: set() for match in expected}
    for hit in found.hits:
        by_class[hit.match].add(hit.name)
    assert by_class == expected
    order = ["exact", "similar", "prefix", "contains", "similar"]
    # Exact matches, then (only) the popular typos, then prefixes, containing names and the other typos.
    ranks = [hit.match for hit in found.hits]
    position = 0
    for rank in ranks:
        while order[position] != rank:
            position += 1
            assert position < len(order), ranks
    after_exact = ranks[len(expected["exact"]) :]
    promoted = list(takewhile(lambda rank: rank == "similar", after_exact))
    if len(promoted) < len(after_exact):
        assert len(promoted) <= LIKELY
    # Shorter names first within prefixes and within containing names.
    for match in ("prefix", "contains"):
        lengths = [len(re.sub(r"[^a-z0-9]", "", h.name.lower())) for h in found.hits if h.match == match]
        assert lengths == sorted(lengths)


def test_pages_continue_one_another(real_index: Names) -> None:
    whole = real_index.search("django", 0, 120).hits
    pages = [real_index.search("django", start, start + 40).hits for start in (0, 40, 80)]
    assert [hit for page in pages for hit in page] == whole
    past = real_index.search("django", 10**6, 10**6 + 10)
    assert past.hits == [] and past.total == real_index.search("django", 0, 1).total


@pytest.mark.parametrize(
    "name", ["requests", "numpy", "Django", "Flask", "pandas", "boto3", "fastapi", "pytest"]
)
def test_an_exact_name_comes_first(real_index: Names, name: str) -> None:
    assert real_index.search(name.lower(), 0, 1).hits[0].name == name


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("reqeusts", "requests"),
        ("reqests", "requests"),
        ("djnago", "Django"),
        ("nmupy", "numpy"),
        ("pandsa", "pandas"),
        ("flaks", "Flask"),
        ("pyteot", "pytest"),
        ("pydantc", "pydantic"),
        ("sqlalchemu", "SQLAlchemy"),
        ("celeri", "celery"),
        ("pedantic", "pydantic"),
        ("fastpai", "fastapi"),
    ],
)
def test_a_typo_of_a_popular_name_finds_it_in_the_top_three(
    real_index: Names, typed: str, meant: str
) -> None:
    top = [hit.name for hit in real_index.search(typed, 0, 3).hits]
    assert meant in top


def test_words_that_spell_a_name_find_it_in_the_top_five(real_index: Names) -> None:
    top = [hit.name for hit in real_index.search("django rest framework", 0, 5).hits]
    assert top[0] == "djangorestframework"
    top = [hit.name for hit in real_index.search("beautiful soup", 0, 5).hits]
    assert "beautifulsoup4" in top


def test_popular_means_many_names_build_on_it(real_index: Names) -> None:
    assert real_index.families[b"django"] > 10000 and real_index.families[b"flask"] > POPULAR
    assert real_index.families.get(b"flaks", 0) < POPULAR
    # By name, not by key: the package most names build on, not every spelling of its key.
    spellings = {
        real_index.name(line): real_index.family(line) for line in real_index.exact(b"djangorestframework")
    }
    assert spellings["djangorestframework"] > 100 and spellings["django-rest-framework"] == 0


def test_close_names_for_did_you_mean(real_index: Names) -> None:
    assert real_index.close("reqeusts")[0] == "requests"
    assert real_index.close("djnago")[0] == "Django"
    # Another spelling of the same key first: PyPI reads django_rest_framework as django-rest-framework.
    assert "djangorestframework" in real_index.close("django_restframework")
    assert real_index.close("zzzzqqqqxxxx") == []


def test_a_one_letter_query_matches_names_that_are_or_start_with_it(real_index: Names) -> None:
    found = real_index.search("q", 0, 5)
    assert found.notes and {hit.match for hit in found.hits} <= {"exact", "prefix"}
    assert all(hit.name.lower().startswith("q") for hit in found.hits)


# -- through the service: loading, caching, failures, did-you-mean ----------------------------


@pytest.fixture
def fake() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream(
        {**recorded_routes(), INDEX_PATH: reply(200, TRIMMED, {"content-type": "text/html"})}
    ) as server:
        yield server


@pytest.fixture
async def served(fake: LoopbackUpstream, tmp_path: Path) -> AsyncIterator[Service]:
    service = Service(server_settings(fake, tmp_path), cache=DiskCache(tmp_path, 10**9), backoff=0.0)
    yield service
    await service.aclose()


async def test_search_answers_ranked_names_with_details_for_the_first(
    served: Service, fake: LoopbackUpstream
) -> None:
    result = await served.call("search", {"registry": "pypi", "query": "requests"})
    assert isinstance(result, SearchResult)
    assert result.results[0].name == "requests" and result.results[0].match == "exact"
    # The recorded project document gives the details of the first result.
    recorded = json.loads(data("pypi/requests.json"))["info"]
    assert result.results[0].latest_version == recorded["version"]
    assert result.results[0].summary == recorded["summary"]
    assert result.page_size == 10 and len(result.results) == 10 and result.has_more
    assert result.total == read(TRIMMED).search("requests", 0, 1).total
    # The other nine have no recorded document here: counted in a note, never invented.
    assert any("9 of the first 10" in note for note in result.notes)
    assert all(hit.latest_version is None for hit in result.results[1:])
    assert fake.hits[INDEX_PATH] == 1
    assert "application/vnd.pypi.simple.v1+json" in (fake.headers[INDEX_PATH][0].get("Accept") or "")


async def test_the_index_is_downloaded_once_and_read_back_from_the_cache(
    fake: LoopbackUpstream, tmp_path: Path
) -> None:
    for _ in range(2):
        service = Service(server_settings(fake, tmp_path), cache=DiskCache(tmp_path, 10**9), backoff=0.0)
        try:
            first = await service.call("search", {"registry": "pypi", "query": "django", "page_size": 3})
            again = await service.call("search", {"registry": "pypi", "query": "flask", "page_size": 3})
        finally:
            await service.aclose()
        assert isinstance(first, SearchResult) and isinstance(again, SearchResult)
        assert first.results[0].name == "Django" and again.results[0].name == "Flask"
    assert fake.hits[INDEX_PATH] == 1


async def test_a_stale_index_is_searched_with_a_note_when_pypi_fails(
    fake: LoopbackUpstream, tmp_path: Path
) -> None:
    cache = DiskCache(tmp_path, 10**9)
    service = Service(server_settings(fake, tmp_path), cache=cache, backoff=0.0)
    try:
        await cache.set(service.searcher.project_names.key, read(TRIMMED).blobs(), 0.01)
        await anyio.sleep(0.05)
        fake.route(INDEX_PATH, reply(503))
        result = await service.call("search", {"registry": "pypi", "query": "numpy", "page_size": 1})
    finally:
        await service.aclose()
    assert isinstance(result, SearchResult) and result.results[0].name == "numpy"
    assert any("project index is" in note and "old" in note and "503" in note for note in result.notes)


async def test_a_mirror_without_the_index_says_it_offers_no_search(
    fake: LoopbackUpstream, served: Service
) -> None:
    fake.route(INDEX_PATH, reply(404))
    with pytest.raises(SearchUnavailable) as caught:
        await served.call("search", {"registry": "pypi", "query": "numpy"})
    assert caught.value.message == (
        "This PyPI index (or the mirror configured for it) offers no search: its project index (/simple/) "
        "answered HTTP 404. Look packages up by their exact name instead."
    )


async def test_a_failing_index_leaves_the_rest_of_pypi_up(fake: LoopbackUpstream, served: Service) -> None:
    fake.route(INDEX_PATH, reply(503))
    with pytest.raises(UpstreamStatus, match="503"):
        await served.call("search", {"registry": "pypi", "query": "numpy"})
    # The index has its own cool-down: the project documents are still asked for.
    result = await served.call("package", {"registry": "pypi", "name": "requests"})
    assert result.name == "requests"


async def test_an_index_that_names_nothing_is_an_invalid_response(
    fake: LoopbackUpstream, served: Service
) -> None:
    fake.route(INDEX_PATH, reply(200, b"<html><body>maintenance</body></html>"))
    with pytest.raises(InvalidResponse, match="names no project"):
        await served.call("search", {"registry": "pypi", "query": "numpy"})


async def test_a_not_found_name_suggests_close_names_that_exist(served: Service) -> None:
    with pytest.raises(PackageNotFound) as caught:
        await served.call("package", {"registry": "pypi", "name": "reqeusts"})
    assert caught.value.message.startswith("pypi package 'reqeusts' not found. Did you mean 'requests'")
    assert caught.value.suggestions[0] == "requests" and len(caught.value.suggestions) <= 3
    # Every tool that takes a name, from the same machinery.
    with pytest.raises(PackageNotFound, match="Did you mean 'requests'"):
        await served.call("versions", {"registry": "pypi", "name": "reqeusts"})


async def test_suggestions_wait_about_a_second_and_the_index_keeps_loading(
    fake: LoopbackUpstream, tmp_path: Path
) -> None:
    fake.route(INDEX_PATH, delayed(2.0, reply(200, TRIMMED)))
    served = Service(server_settings(fake, tmp_path, read_timeout=5.0), cache=DiskCache(tmp_path, 10**9))
    try:
        started = time.monotonic()
        with pytest.raises(PackageNotFound) as caught:
            await served.call("package", {"registry": "pypi", "name": "reqeusts"})
        waited = time.monotonic() - started
        assert caught.value.message == "pypi package 'reqeusts' not found" and waited < 1.6
        # Not cancelled with the call: the load ends on its own, and the next not-found has its suggestions.
        await served.searcher.project_names.get()
        with pytest.raises(PackageNotFound, match="Did you mean 'requests'"):
            await served.call("package", {"registry": "pypi", "name": "reqeusts"})
    finally:
        await served.aclose()
    assert fake.hits[INDEX_PATH] == 1


async def test_a_failing_index_never_turns_a_not_found_into_another_error(
    fake: LoopbackUpstream, served: Service
) -> None:
    fake.route(INDEX_PATH, reply(500))
    with pytest.raises(PackageNotFound) as caught:
        await served.call("package", {"registry": "pypi", "name": "reqeusts"})
    assert caught.value.message == "pypi package 'reqeusts' not found"


# -- live: the real index this machine reaches (`pytest -m live`) -----------------------------


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Service]:
    service = Service(Settings.from_env(cache_dir=tmp_path), cache=DiskCache(tmp_path, 10**9))
    yield service
    await service.aclose()


@pytest.mark.live
async def test_live_search_and_did_you_mean_over_the_real_index(live: Service) -> None:
    result = await live.call("search", {"registry": "pypi", "query": "Django REST framework", "page_size": 5})
    assert isinstance(result, SearchResult) and result.total is not None and result.total > 100
    assert "djangorestframework" in [hit.name for hit in result.results]
    names, _ = await live.searcher.project_names.get() or (None, None)
    assert names is not None and len(names) > 700_000
    exact = await live.call("search", {"registry": "pypi", "query": "requests", "page_size": 1})
    assert isinstance(exact, SearchResult) and exact.results[0].name == "requests"
    assert exact.results[0].latest_version and exact.results[0].released
    with pytest.raises(PackageNotFound, match="Did you mean 'requests'"):
        await live.call("package", {"registry": "pypi", "name": "reqeusts"})


async def test_the_first_search_does_not_wait_for_the_cache_write(
    fake: LoopbackUpstream, tmp_path: Path
) -> None:
    """The index is searchable once built; writing its ~40 MB to the cache happens after."""
    released = anyio.Event()

    class SlowWrites(DiskCache):
        async def set(self, key: str, value: object, ttl: float, validators: object = None) -> None:
            if key.startswith("names|"):
                await released.wait()
            await super().set(key, value, ttl, validators)

    service = Service(server_settings(fake, tmp_path), cache=SlowWrites(tmp_path, 10**9), backoff=0.0)
    try:
        with anyio.fail_after(10):
            result = await service.call("search", {"registry": "pypi", "query": "django", "page_size": 1})
        assert isinstance(result, SearchResult) and result.results[0].name == "Django"
        assert service.searcher.project_names.loading
        released.set()
        with anyio.fail_after(10):
            while service.searcher.project_names.loading:
                await anyio.sleep(0.01)
    finally:
        await service.aclose()
    assert await DiskCache(tmp_path, 10**9).get(service.searcher.project_names.key) is not None
