"""OSV: querybatch and advisory records, from hand-written documented shapes (tests/data/README.md, "OSV")
served by the loopback upstream under the `osv/` prefix; the `version` tool's vulnerabilities from them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from mcp_registries.errors import InvalidResponse, UpstreamStatus
from mcp_registries.fetching import Fetch
from mcp_registries.http import HttpClient
from mcp_registries.models import PackageResult, VersionResult, Vulnerability, compact_json, structured
from mcp_registries.osv import (
    _ORDER,
    BATCH,
    IN_FLIGHT,
    OFF,
    PAGES,
    Advisory,
    Affects,
    Asked,
    Found,
    _in_order,
    read_advisory,
)
from mcp_registries.service import Service
from mcp_registries.settings import Settings

from .conftest import OSV, data, make_settings, recorded_routes, server_settings
from .upstream import Exchange, LoopbackUpstream, failing, held, refused_url, reply

pytestmark = pytest.mark.anyio

QUERYBATCH = "/osv/v1/querybatch"
VULNS = "/osv/v1/vulns/"
RECORDS = (
    "GHSA-qw6h-vgh9-j6wx",
    "GHSA-2222-3333-4444",
    "GHSA-9wx4-h78v-vm56",
    "PYSEC-2099-1",
    "GHSA-9999-wwww-xxxx",
)

EXPRESS = Asked("npm", "express", "4.18.2")
REQUESTS = Asked("pypi", "Requests", "2.31.0")
MS = Asked("npm", "ms", "2.1.3")

XSS = Vulnerability(
    id="GHSA-qw6h-vgh9-j6wx",
    aliases=["CVE-2024-43796"],
    summary="express vulnerable to XSS via response.redirect()",
    severity="CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:L",
    fixed=["4.20.0", "5.0.0"],
)
SEVERAL = Vulnerability(
    id="GHSA-2222-3333-4444",
    aliases=["CVE-2099-0001"],
    summary="Made-up advisory affecting express, body-parser and a PyPI package named express",
    severity="HIGH",
    fixed=["4.21.0", "5.0.1"],
)
SESSION = Vulnerability(
    id="GHSA-9wx4-h78v-vm56",
    aliases=["CVE-2024-35195"],
    summary="Requests `Session` object does not verify requests after making first request with verify=False",
    severity="MODERATE",
    fixed=["2.32.0"],
)
HEADER = Vulnerability(
    id="PYSEC-2099-1",
    summary="Requests 2.31.0 and earlier send a made-up header to every host (a made-up record for tests).",
    fixed=["2.32.0"],
)


def ids(document: str) -> list[list[dict[str, str]]]:
    """Each result's `vulns` of a recorded querybatch answer."""
    return [result.get("vulns", []) for result in json.loads(data(document))["results"]]


EXPRESS_IDS, REQUESTS_IDS, _ = ids("documented/osv-querybatch.json")


def queries(body: bytes) -> list[dict[str, Any]]:
    decoded: list[dict[str, Any]] = json.loads(body)["queries"]
    return decoded


def by_package(ex: Exchange) -> None:
    """A querybatch answered per query: express and requests as recorded, any other package with none."""
    found = {"express": EXPRESS_IDS, "requests": REQUESTS_IDS}
    results = [
        {"vulns": found[q["package"]["name"]]} if q["package"]["name"] in found else {}
        for q in queries(ex.body)
    ]
    ex.send(200, json.dumps({"results": results}).encode())


def serve_osv(server: LoopbackUpstream) -> None:
    server.route(QUERYBATCH, reply(200, data("documented/osv-querybatch.json")))
    for advisory in RECORDS:
        server.route(VULNS + advisory, reply(200, data(f"documented/osv-vulns-{advisory}.json")))


def osv_settings(server: LoopbackUpstream, directory: Path, **overrides: object) -> Settings:
    return server_settings(server, directory, **{"osv_enabled": True, "retries": 1, **overrides})


@pytest.fixture
def server() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream(recorded_routes()) as running:
        serve_osv(running)
        yield running


@pytest.fixture
async def service(server: LoopbackUpstream, tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(osv_settings(server, tmp_path), backoff=0.0)
    yield svc
    await svc.aclose()


def osv_hits(server: LoopbackUpstream) -> dict[str, int]:
    return {path: n for path, n in server.hits.items() if path.startswith("/osv/")}


# -- records, read pure ---------------------------------------------------------------------------------


def test_read_advisory_keeps_each_packages_fixed_versions_and_ratings() -> None:
    """A record affecting several packages (two ecosystems, a GIT range, a package listed twice) gives each
    package its own fixed versions and rating; commits are not versions."""
    record = read_advisory(json.loads(data("documented/osv-vulns-GHSA-2222-3333-4444.json")))
    assert record == Advisory(
        id="GHSA-2222-3333-4444",
        aliases=["CVE-2099-0001"],
        summary="Made-up advisory affecting express, body-parser and a PyPI package named express",
        packages={
            "npm|express": Affects(fixed=["5.0.1", "4.21.0", "4.21.0"], rating="HIGH"),
            "npm|body-parser": Affects(fixed=["1.20.3"], rating="LOW"),
            "PyPI|express": Affects(fixed=["9.9.9"]),
        },
    )


def test_read_advisory_prefers_cvss_4_and_reads_summary_from_details() -> None:
    """CVSS 4 is preferred to 3; a record without a summary takes its details' first line of prose."""
    xss = read_advisory(json.loads(data("documented/osv-vulns-GHSA-qw6h-vgh9-j6wx.json")))
    assert xss.cvss == XSS.severity and xss.rating == "LOW"
    pysec = read_advisory(json.loads(data("documented/osv-vulns-PYSEC-2099-1.json")))
    assert pysec.summary == HEADER.summary and set(pysec.packages) == {"PyPI|requests"}
    assert read_advisory(json.loads(data("documented/osv-vulns-GHSA-9999-wwww-xxxx.json"))).withdrawn


def test_fixed_versions_in_each_ecosystems_order() -> None:
    """Fixed versions sort by PEP 440 (PyPI) or SemVer (npm), lowest first; strings neither reads come last."""
    assert _in_order(
        ["2.32.0", "2.4.0", "2.10.0", "2.10.0rc1", "2.4.0", "not a version"], _ORDER["PyPI"]
    ) == [
        "2.4.0",
        "2.10.0rc1",
        "2.10.0",
        "2.32.0",
        "not a version",
    ]
    assert _in_order(["5.0.0", "4.20.0", "5.0.0-beta.3", "4.9.0"], _ORDER["npm"]) == [
        "4.9.0",
        "4.20.0",
        "5.0.0-beta.3",
        "5.0.0",
    ]


# -- lookups over the loopback upstream ------------------------------------------------------------------


async def test_osv_lookup_two_packages(service: Service, server: LoopbackUpstream) -> None:
    """One querybatch for npm and PyPI versions (PyPI's name normalized), then each advisory once: CVSS vector
    or the database's rating, fixed versions of this package only, withdrawn records dropped, [] for none."""
    found = await service.osv.lookup([EXPRESS, REQUESTS, MS])
    assert found == Found({EXPRESS: [XSS, SEVERAL], REQUESTS: [SESSION, HEADER], MS: []}, [])
    assert json.loads(server.bodies[QUERYBATCH][0]) == {
        "queries": [
            {"package": {"name": "express", "ecosystem": "npm"}, "version": "4.18.2"},
            {"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.31.0"},
            {"package": {"name": "ms", "ecosystem": "npm"}, "version": "2.1.3"},
        ]
    }
    assert server.headers[QUERYBATCH][0]["Content-Type"] == "application/json"
    assert osv_hits(server) == {QUERYBATCH: 1, **{VULNS + advisory: 1 for advisory in RECORDS}}


async def test_osv_querybatch_chunks_at_1000(service: Service, server: LoopbackUpstream) -> None:
    """1,001 package versions are asked in two batches, of 1,000 and 1, each answered in its own order."""
    server.route(QUERYBATCH, by_package)
    asked = [Asked("npm", "ms", f"0.0.{n}") for n in range(BATCH)] + [EXPRESS]
    found = await service.osv.lookup(asked)
    assert [len(queries(body)) for body in server.bodies[QUERYBATCH]] == [1000, 1]
    assert found.vulnerabilities is not None and found.notes == []
    assert found.vulnerabilities[EXPRESS] == [XSS, SEVERAL]
    assert found.vulnerabilities[asked[0]] == [] and len(found.vulnerabilities) == 1001


async def test_osv_follows_page_tokens_per_query(service: Service, server: LoopbackUpstream) -> None:
    """A result with `next_page_token` is asked again, alone and with its token, and its pages add up."""
    pages = [data("documented/osv-querybatch-page1.json"), data("documented/osv-querybatch-page2.json")]
    server.route(QUERYBATCH, lambda ex: ex.send(200, pages[ex.number - 1]))
    found = await service.osv.lookup([EXPRESS, REQUESTS])
    assert found == Found({EXPRESS: [XSS, SEVERAL], REQUESTS: [SESSION, HEADER]}, [])
    token = json.loads(pages[0])["results"][0]["next_page_token"]
    assert queries(server.bodies[QUERYBATCH][1]) == [
        {"package": {"name": "express", "ecosystem": "npm"}, "version": "4.18.2", "page_token": token}
    ]


async def test_osv_page_tokens_are_followed_a_bounded_number_of_times(
    service: Service, server: LoopbackUpstream
) -> None:
    """An upstream that always has another page is asked PAGES times; what it gave is listed, with a note."""
    page = {"results": [{"vulns": EXPRESS_IDS[:1], "next_page_token": "again"}]}
    server.route(QUERYBATCH, reply(200, json.dumps(page).encode()))
    found = await service.osv.lookup([EXPRESS])
    assert server.hits[QUERYBATCH] == PAGES
    assert found.vulnerabilities == {EXPRESS: [XSS]}
    assert found.notes == [
        (
            f"OSV lists more advisories for 1 of these package versions than were read ({PAGES} pages); "
            "the list may be incomplete"
        )
    ]


async def test_osv_advisory_id_is_one_escaped_path_segment(
    service: Service, server: LoopbackUpstream
) -> None:
    """An id from OSV reaches the URL only as one escaped segment; '..' is never sent, and is listed by id."""
    odd = [{"id": "GHSA-a/b?c#d%2e", "modified": "2026-11-20T08:00:00Z"}, {"id": "..", "modified": "x"}]
    server.route(QUERYBATCH, reply(200, json.dumps({"results": [{"vulns": odd}]}).encode()))
    escaped = VULNS + "GHSA-a%2Fb%3Fc%23d%252e"
    server.route(escaped, reply(200, data("documented/osv-vulns-GHSA-qw6h-vgh9-j6wx.json")))
    found = await service.osv.lookup([EXPRESS])
    assert osv_hits(server) == {QUERYBATCH: 1, escaped: 1}
    assert found.vulnerabilities == {
        EXPRESS: [XSS.model_copy(update={"id": "GHSA-a/b?c#d%2e"}), Vulnerability(id="..")]
    }
    assert found.notes == [
        (
            "details of 1 advisory could not be read (OSV failed: it sent an invalid response (refusing the "
            "path segment '..')); listed by id only"
        )
    ]


async def test_osv_down_is_unknown_and_leaves_the_registries_up(
    service: Service, server: LoopbackUpstream
) -> None:
    """OSV answering 503: vulnerabilities unknown (None, never []) with one sentence; OSV alone is down, the
    registries answer, and the next lookup fails fast without a request."""
    server.route(QUERYBATCH, failing(503, b""))
    found = await service.osv.lookup([EXPRESS, REQUESTS])
    assert found == Found(None, ["vulnerabilities unknown: OSV failed: it answered HTTP 503"])
    assert server.statuses[QUERYBATCH] == [503, 503]
    assert service.http.outages.down() == [server.url + "osv/"]
    package = await service.call("package", {"registry": "npm", "name": "express"})
    assert isinstance(package, PackageResult) and package.latest_version == "5.3.0"
    again = await service.osv.lookup([EXPRESS])
    assert again.vulnerabilities is None and "it is tried again in" in again.notes[0]
    assert server.hits[QUERYBATCH] == 2


async def test_osv_unreachable_is_unknown(server: LoopbackUpstream, tmp_path: Path) -> None:
    """A connection refused gives the same honest answer: unknown, with why."""
    svc = Service(osv_settings(server, tmp_path, osv_url=refused_url()), backoff=0.0)
    try:
        found = await svc.osv.lookup([EXPRESS])
    finally:
        await svc.aclose()
    assert found.vulnerabilities is None
    assert found.notes[0].startswith("vulnerabilities unknown: OSV failed: it could not be reached")


async def test_osv_off_sends_nothing(server: LoopbackUpstream, tmp_path: Path) -> None:
    """Turned off, OSV is never asked (not even an allowed origin): vulnerabilities unknown, with the reason."""
    svc = Service(server_settings(server, tmp_path), backoff=0.0)
    try:
        assert not svc.settings.osv_enabled
        assert await svc.osv.lookup([EXPRESS]) == Found(None, [OFF])
        answer = await svc.call("version", {"registry": "npm", "name": "express", "version": "4.18.2"})
    finally:
        await svc.aclose()
    assert isinstance(answer, VersionResult) and answer.vulnerabilities is None and OFF in answer.notes
    assert osv_hits(server) == {}


async def test_osv_base_is_an_allowed_origin_only_when_on() -> None:
    """With OSV off its origin is like any other outside the configured upstreams: nothing is sent there."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"results": []})

    query = Fetch(OSV + "v1/querybatch", "OSV", payload=b'{"queries":[]}')
    off = HttpClient(make_settings(), transport=httpx.MockTransport(answer))
    on = HttpClient(make_settings(osv_enabled=True), transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(InvalidResponse, match="outside the configured upstreams"):
            await off.fetch(query)
        assert sent == []
        assert await on.fetch(query) == {"results": []}
    finally:
        await off.aclose()
        await on.aclose()
    assert [(r.method, str(r.url), r.content) for r in sent] == [("POST", query.url, query.payload)]


def test_osv_settings_from_environment() -> None:
    """MCP_REGISTRIES_OSV_URL sets the base (a trailing slash added); MCP_REGISTRIES_OSV=off and its synonyms
    turn OSV off; on by default at api.osv.dev."""
    default = Settings.from_env({})
    assert default.osv_enabled and default.osv_url == "https://api.osv.dev/"
    mirror = Settings.from_env({"MCP_REGISTRIES_OSV_URL": "https://osv.example/api"})
    assert mirror.osv_url == "https://osv.example/api/"
    for off in ("off", "0", "false", "No", " disabled "):
        assert not Settings.from_env({"MCP_REGISTRIES_OSV": off}).osv_enabled
    assert Settings.from_env({"MCP_REGISTRIES_OSV": "on"}).osv_enabled


async def test_osv_detail_failures_list_the_id_with_one_note(
    service: Service, server: LoopbackUpstream
) -> None:
    """Advisories whose record cannot be read stay listed by id; one note counts them."""
    server.route(VULNS + "GHSA-2222-3333-4444", reply(404, data("documented/osv-404.json")))
    server.route(VULNS + "PYSEC-2099-1", reply(200, b"<html>oops</html>"))
    found = await service.osv.lookup([EXPRESS, REQUESTS, MS])
    assert found.vulnerabilities == {
        EXPRESS: [XSS, Vulnerability(id="GHSA-2222-3333-4444")],
        REQUESTS: [SESSION, Vulnerability(id="PYSEC-2099-1")],
        MS: [],
    }
    assert len(found.notes) == 1
    assert found.notes[0].startswith("details of 2 advisories could not be read (OSV failed: ")
    assert found.notes[0].endswith("); listed by id only")


async def test_osv_records_are_cached_and_not_fetched_again(
    service: Service, server: LoopbackUpstream
) -> None:
    """A second lookup naming the same advisories fetches none of them again; the same question again is
    answered from the cache without any request."""
    server.route(QUERYBATCH, by_package)
    first = await service.osv.lookup([EXPRESS])
    second = await service.osv.lookup([Asked("npm", "express", "4.18.1")])
    third = await service.osv.lookup([EXPRESS])
    assert first.vulnerabilities == {EXPRESS: [XSS, SEVERAL]} and first == third
    assert second.vulnerabilities == {Asked("npm", "express", "4.18.1"): [XSS, SEVERAL]}
    assert osv_hits(server) == {
        QUERYBATCH: 2,
        VULNS + "GHSA-qw6h-vgh9-j6wx": 1,
        VULNS + "GHSA-2222-3333-4444": 1,
    }


async def test_osv_concurrent_lookups_share_each_record_fetch(
    service: Service, server: LoopbackUpstream
) -> None:
    """Two lookups at once naming the same advisories fetch each record once (single-flight)."""
    server.route(QUERYBATCH, by_package)
    release = threading.Event()
    for advisory in ("GHSA-qw6h-vgh9-j6wx", "GHSA-2222-3333-4444"):
        server.route(
            VULNS + advisory, held(release, reply(200, data(f"documented/osv-vulns-{advisory}.json")))
        )
    results: list[Found] = []

    async def ask(version: str) -> None:
        results.append(await service.osv.lookup([Asked("npm", "express", version)]))

    async with anyio.create_task_group() as group:
        group.start_soon(ask, "4.18.2")
        group.start_soon(ask, "4.18.1")
        await anyio.sleep(0.3)
        release.set()
    assert [list(r.vulnerabilities.values()) for r in results if r.vulnerabilities] == [[[XSS, SEVERAL]]] * 2
    assert server.hits[VULNS + "GHSA-qw6h-vgh9-j6wx"] == server.hits[VULNS + "GHSA-2222-3333-4444"] == 1


async def test_osv_at_most_16_record_requests_in_flight(service: Service, server: LoopbackUpstream) -> None:
    """Forty advisories are fetched concurrently, never more than IN_FLIGHT at once."""
    many = [{"id": f"GHSA-test-{n:04d}", "modified": "2026-11-20T08:00:00Z"} for n in range(40)]
    server.route(QUERYBATCH, reply(200, json.dumps({"results": [{"vulns": many}]}).encode()))
    lock = threading.Lock()
    now, peak = [0], [0]

    def record(ex: Exchange) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        ex.wait(0.05)
        with lock:
            now[0] -= 1
        advisory = ex.path.rsplit("/", 1)[1]
        ex.send(200, json.dumps({"id": advisory, "summary": "made up"}).encode())

    server.prefixes[VULNS] = record
    found = await service.osv.lookup([EXPRESS])
    assert found.vulnerabilities is not None and len(found.vulnerabilities[EXPRESS]) == 40
    assert 2 <= peak[0] <= IN_FLIGHT


# -- the version tool --------------------------------------------------------------------------------


async def test_version_vulnerabilities_from_osv(service: Service, server: LoopbackUpstream) -> None:
    """The version tool lists OSV's advisories for the resolved version: npm's, and PyPI's in place of PyPI's
    own list; an exact npm version is asked of OSV once, alongside the registry."""
    server.route(QUERYBATCH, by_package)
    npm = await service.call("version", {"registry": "npm", "name": "express", "version": "4.18.2"})
    pypi = await service.call("version", {"registry": "pypi", "name": "Requests", "version": "2.31"})
    assert isinstance(npm, VersionResult) and isinstance(pypi, VersionResult)
    assert npm.vulnerabilities == [XSS, SEVERAL] and pypi.vulnerabilities == [SESSION, HEADER]
    assert not [n for n in [*npm.notes, *pypi.notes] if "vulnerab" in n]
    assert [queries(body) for body in server.bodies[QUERYBATCH]] == [
        [{"package": {"name": "express", "ecosystem": "npm"}, "version": "4.18.2"}],
        [{"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.31.0"}],
    ]


async def test_version_vulnerabilities_when_osv_is_down(service: Service, server: LoopbackUpstream) -> None:
    """OSV failing: PyPI's own list is kept, with a note saying so; npm's are unknown (null), with a note."""
    server.route(QUERYBATCH, failing(503, b""))
    pypi = await service.call("version", {"registry": "pypi", "name": "requests", "version": "2.31.0"})
    npm = await service.call("version", {"registry": "npm", "name": "express", "version": "4.18.2"})
    assert isinstance(npm, VersionResult) and isinstance(pypi, VersionResult)
    assert [v.id for v in pypi.vulnerabilities or []] == ["GHSA-9wx4-h78v-vm56"]
    assert pypi.vulnerabilities[0].summary == "Session keeps verify=False for a host once set"  # PyPI's words
    assert (
        "vulnerabilities are the registry's own list: OSV could not be asked (OSV failed: it answered HTTP 503)"
        in pypi.notes
    )
    assert npm.vulnerabilities is None
    assert npm.notes[-1].startswith("vulnerabilities unknown: OSV failed: it answered HTTP 503")
    assert '"vulnerabilities"' not in compact_json(structured(npm))


async def test_version_answer_with_many_advisories_stays_under_4_kb(
    service: Service, server: LoopbackUpstream
) -> None:
    """Sixty advisories: the default answer stays under 4 KB, the notes count what was left out and where
    every one is listed."""
    many = [{"id": f"GHSA-many-{n:04d}", "modified": "2026-11-20T08:00:00Z"} for n in range(60)]
    server.route(QUERYBATCH, reply(200, json.dumps({"results": [{"vulns": many}]}).encode()))

    def record(ex: Exchange) -> None:
        advisory = ex.path.rsplit("/", 1)[1]
        document = json.loads(data("documented/osv-vulns-GHSA-qw6h-vgh9-j6wx.json"))
        ex.send(200, json.dumps({**document, "id": advisory}).encode())

    server.prefixes[VULNS] = record
    result = await service.call("version", {"registry": "npm", "name": "express", "version": "4.18.2"})
    assert isinstance(result, VersionResult) and result.vulnerabilities
    assert len(compact_json(structured(result)).encode()) < 4096
    shown = len(result.vulnerabilities)
    assert 1 <= shown < 60 and result.vulnerabilities[0] == Vulnerability(
        id="GHSA-many-0000", severity=XSS.severity, fixed=XSS.fixed
    )
    assert result.notes[-1] == (
        f"{shown} of 60 known vulnerabilities listed to stay under 4 KB; "
        "https://osv.dev/list?ecosystem=npm&q=express lists them all"
    )


# -- POST over the shared HTTP client --------------------------------------------------------------


async def test_post_is_retried_with_its_body_and_follows_307_only(
    server: LoopbackUpstream, tmp_path: Path
) -> None:
    """A query POST is retried after a 503 with the same body, follows a 307 with method and body, and a
    301 (which clients turn into a GET) is an error."""
    client = HttpClient(osv_settings(server, tmp_path), backoff=0.0)
    payload = b'{"queries":[]}'
    server.route("/osv/retried", failing(503, b'{"results":[]}', times=1))
    server.route("/osv/moved", reply(307, b"", {"Location": "/osv/here"}))
    server.route("/osv/here", reply(200, b'{"results":[]}'))
    server.route("/osv/gone", reply(301, b"", {"Location": "/osv/here"}))
    try:
        assert await client.fetch(Fetch(server.url + "osv/retried", "OSV", payload=payload)) == {
            "results": []
        }
        assert await client.fetch(Fetch(server.url + "osv/moved", "OSV", payload=payload)) == {"results": []}
        with pytest.raises(UpstreamStatus, match="it redirected a query with HTTP 301"):
            await client.fetch(Fetch(server.url + "osv/gone", "OSV", payload=payload))
    finally:
        await client.aclose()
    assert server.bodies["/osv/retried"] == [payload, payload]
    assert server.bodies["/osv/here"] == [payload]


# -- live -----------------------------------------------------------------------------------------


@pytest.mark.live
async def test_live_osv_answers_or_says_it_is_unknown() -> None:
    """Against the real OSV: express 4.18.2's advisories where it is reachable; here, where it is not, an
    honest unknown (None and a note), promptly."""
    service = Service(Settings.from_env(cache_enabled=False), backoff=0.25)
    started = time.monotonic()
    try:
        found = await service.osv.lookup([EXPRESS])
    finally:
        await service.aclose()
    elapsed = time.monotonic() - started
    if found.vulnerabilities is None:
        assert found.notes and found.notes[0].startswith("vulnerabilities unknown: OSV failed: ")
        assert elapsed < 5.0
    else:
        assert "GHSA-qw6h-vgh9-j6wx" in {v.id for v in found.vulnerabilities[EXPRESS]}
