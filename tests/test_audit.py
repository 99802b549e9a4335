"""The audit tool: a manifest's dependencies checked in one call against recorded registry documents.

Expected versions are worked out here from the recordings the plain way (filtering version strings), not
with the code under test.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_registries.cache import NullCache
from mcp_registries.errors import InvalidArgument
from mcp_registries.models import AuditEntry, AuditResult, Vulnerability, compact_json
from mcp_registries.osv import Asked, Found
from mcp_registries.service import Service
from tests.conftest import data, recorded_routes, server_settings
from tests.upstream import Exchange, LoopbackUpstream, reply

pytestmark = pytest.mark.anyio


def versions(path: str) -> list[str]:
    return list(
        json.loads(data(path))["versions"] if path.startswith("npm/") else json.loads(data(path))["releases"]
    )


def highest(candidates: list[str], pattern: str) -> str:
    """The highest plain x.y.z version matching `pattern`."""
    plain = [v for v in candidates if re.fullmatch(pattern, v)]
    return max(plain, key=lambda v: tuple(int(part) for part in v.split(".")))


class FakeOsv:
    """OSV as the auditor sees it: what it was asked, and a fixed answer (the client is tested on its own)."""

    def __init__(self, known: dict[tuple[str, str], list[Vulnerability]] | None) -> None:
        self.known = known
        self.asked: list[list[Asked]] = []

    async def lookup(self, asked: list[Asked]) -> Found:
        self.asked.append(asked)
        if self.known is None:
            return Found(None, ["vulnerabilities unknown: OSV could not be reached"])
        return Found({a: self.known.get((a.name, a.version), []) for a in asked}, [])


@pytest.fixture
def fake() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream(recorded_routes()) as server:
        yield server


@pytest.fixture
async def service(fake: LoopbackUpstream) -> AsyncIterator[Service]:
    svc = Service(server_settings(fake), cache=NullCache(), backoff=0.0)
    yield svc
    await svc.aclose()


def by_name(result: AuditResult) -> dict[str, AuditEntry]:
    return {entry.name: entry for entry in result.dependencies}


PACKAGE_JSON = json.dumps(
    {
        "name": "shop",
        "dependencies": {
            "express": "^4.18.2",
            "ms": "^2.1.3",
            "react": "latest",
            "my-ms": "npm:ms@^2.0.0",
            "internal-lib": "git+https://example.com/internal-lib.git",
            "not-published-anywhere-xyz": "^1.0.0",
        },
        "devDependencies": {"left-pad": "~1.1.0", "JSONStream": "*"},
    }
)


async def test_package_json_dependencies_resolved_as_npm_installs_them(service: Service) -> None:
    osv = FakeOsv({("ms", "2.1.3"): [Vulnerability(id="GHSA-test-0001", severity="HIGH", fixed=["2.1.4"])]})
    service.auditor.osv = osv  # type: ignore[assignment]
    result = await service.call("audit", {"manifest": PACKAGE_JSON})
    assert isinstance(result, AuditResult) and result.registry == "npm" and result.source == "package.json"
    entries = by_name(result)
    express = entries["express"]
    assert (
        express.status == "outdated" and express.latest_version == "5.3.0" and express.latest_allowed is False
    )
    assert express.resolved_version == highest(versions("npm/express.json"), r"4\.\d+\.\d+")
    assert entries["react"].status == "ok" and entries["react"].resolved_version == "19.3.1"
    # An alias is checked as its target: the same version, the same advisory.
    assert entries["ms"].status == entries["my-ms"].status == "vulnerable"
    assert entries["my-ms"].resolved_version == "2.1.3" and entries["my-ms"].requirement == "npm:ms@^2.0.0"
    assert entries["ms"].vulnerabilities and entries["ms"].vulnerabilities[0].id == "GHSA-test-0001"
    assert entries["internal-lib"].status == "unchecked" and entries["internal-lib"].resolved_version is None
    missing = entries["not-published-anywhere-xyz"]
    assert missing.status == "not-found" and "not found" in (missing.error or "")
    left_pad = entries["left-pad"]
    assert left_pad.group == "devDependencies" and left_pad.status == "outdated"
    assert left_pad.resolved_version == highest(versions("npm/left-pad.json"), r"1\.1\.\d+")
    assert entries["JSONStream"].status == "ok" and entries["JSONStream"].resolved_version == "1.3.5"
    # Problems first, and counted.
    order = [entry.status for entry in result.dependencies]
    assert order == sorted(
        order,
        key=["vulnerable", "deprecated", "yanked", "not-found", "error", "outdated", "unchecked", "ok"].index,
    )
    assert result.summary == {"vulnerable": 2, "not-found": 1, "outdated": 2, "unchecked": 1, "ok": 2}
    # One OSV batch, for each resolved package version once.
    assert len(osv.asked) == 1
    assert {(a.name, a.version) for a in osv.asked[0]} == {
        ("express", express.resolved_version),
        ("ms", "2.1.3"),
        ("react", "19.3.1"),
        ("left-pad", left_pad.resolved_version),
        ("JSONStream", "1.3.5"),
    }
    # The mirror strips deprecations: said once, not per entry.
    assert sum("deprecation unknown" in note for note in result.notes) == 1


REQUIREMENTS = """\
# web
requests>=2.31            # admits the latest
Django<4 ; python_version >= "3.8"
numpy==2.0.0 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
zope.interface
not-a-real-project-xyz
-e git+https://github.com/example/tool.git#egg=tool
--index-url https://pypi.org/simple
"""


async def test_requirements_file_resolved_as_pip_picks(service: Service) -> None:
    service.auditor.osv = FakeOsv({})  # type: ignore[assignment]
    result = await service.call("audit", {"manifest": REQUIREMENTS})
    assert isinstance(result, AuditResult) and result.registry == "pypi" and result.source == "requirements"
    entries = by_name(result)
    assert entries["requests"].status == "ok" and entries["requests"].resolved_version == "2.34.2"
    django = entries["Django"]
    assert django.status == "outdated" and django.latest_version == "6.1.3" and django.latest_allowed is False
    assert django.resolved_version == highest(versions("pypi/Django.json"), r"3\.\d+(\.\d+)?")
    assert entries["numpy"].resolved_version == "2.0.0" and entries["numpy"].status == "outdated"
    assert entries["zope.interface"].status == "ok"
    assert entries["not-a-real-project-xyz"].status == "not-found"
    assert [e.status for e in result.dependencies if e.status == "unchecked"] == ["unchecked"]
    # OSV answered "none" for every version: [] in the data, not unknown.
    assert all(e.vulnerabilities == [] for e in result.dependencies if e.resolved_version)


async def test_a_yanked_pin_is_reported_yanked_and_otherwise_skipped(service: Service) -> None:
    service.auditor.osv = FakeOsv({})  # type: ignore[assignment]
    pinned = await service.call("audit", {"registry": "pypi", "packages": ["requests==2.32.0"]})
    assert isinstance(pinned, AuditResult)
    assert pinned.dependencies[0].status == "yanked" and pinned.dependencies[0].yanked
    ranged = await service.call("audit", {"registry": "pypi", "packages": ["requests>=2.32.0,<2.32.2"]})
    assert isinstance(ranged, AuditResult)
    assert ranged.dependencies[0].resolved_version not in {"2.32.0", "2.32.1"}


async def test_osv_unreachable_is_unknown_never_none(service: Service) -> None:
    service.auditor.osv = FakeOsv(None)  # type: ignore[assignment]
    result = await service.call("audit", {"registry": "npm", "packages": ["ms@^2", "express@4"]})
    assert isinstance(result, AuditResult)
    assert all(entry.vulnerabilities is None for entry in result.dependencies)
    assert "vulnerabilities unknown: OSV could not be reached" in result.notes
    assert all(entry.status != "vulnerable" for entry in result.dependencies)


async def test_one_failing_entry_is_an_error_the_rest_answered(
    service: Service, fake: LoopbackUpstream
) -> None:
    fake.route("/npm/left-pad", reply(500))
    service.auditor.osv = FakeOsv({})  # type: ignore[assignment]
    result = await service.call("audit", {"registry": "npm", "packages": ["left-pad@1", "ms@2"]})
    assert isinstance(result, AuditResult)
    entries = by_name(result)
    assert entries["left-pad"].status == "error" and "500" in (entries["left-pad"].error or "")
    assert entries["ms"].status == "ok"


async def test_bad_input_gets_one_sentence(service: Service) -> None:
    with pytest.raises(InvalidArgument, match="either manifest .* or packages"):
        await service.call("audit", {"registry": "npm"})
    with pytest.raises(InvalidArgument, match="required with packages"):
        await service.call("audit", {"packages": ["react"]})
    with pytest.raises(InvalidArgument, match="at most 500"):
        await service.call("audit", {"registry": "npm", "packages": [f"p{i}" for i in range(501)]})


async def test_at_most_sixteen_requests_in_flight(tmp_path: Path) -> None:
    """Forty packages, each answered after a pause: the upstream never sees more than 16 at once."""
    lock = threading.Lock()
    now = peak = 0
    body = data("npm/ms.json")

    def slow(ex: Exchange) -> None:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        ex.wait(0.05)
        with lock:
            now -= 1
        ex.send(200, body, {"content-type": "application/json"})

    with LoopbackUpstream() as server:
        server.prefixes["/npm/"] = slow
        svc = Service(server_settings(server, None), cache=NullCache(), backoff=0.0)
        svc.auditor.osv = FakeOsv({})  # type: ignore[assignment]
        try:
            with anyio.fail_after(20):
                result = await svc.call(
                    "audit", {"registry": "npm", "packages": [f"pkg-{i}@^2" for i in range(40)], "full": True}
                )
        finally:
            await svc.aclose()
    assert isinstance(result, AuditResult) and len(result.dependencies) == 40
    assert 1 < peak <= 16


def sixty_dependencies() -> str:
    """Sixty entries of a typical size (npm names average about ten characters), as aliases of recorded ones."""
    names = ["express", "ms", "react", "left-pad", "JSONStream"]
    deps: dict[str, Any] = {f"dep-{i:02}-pkg": f"npm:{names[i % 5]}@*" for i in range(60)}
    return json.dumps({"dependencies": deps})


async def test_a_long_audit_counts_the_fine_entries_and_full_lists_them(service: Service) -> None:
    service.auditor.osv = FakeOsv({})  # type: ignore[assignment]
    short = await service.call("audit", {"manifest": sixty_dependencies()})
    assert isinstance(short, AuditResult) and short.summary == {"ok": 60} and short.dependencies == []
    assert any("60 dependencies without a problem" in note and "full=true" in note for note in short.notes)
    assert len(compact_json(short).encode()) < 4096
    full = await service.call("audit", {"manifest": sixty_dependencies(), "full": True})
    assert isinstance(full, AuditResult) and len(full.dependencies) == 60
    assert all(entry.license for entry in full.dependencies)
    assert sum(full.licenses.values()) == 60


async def test_a_long_list_of_problems_stays_whole_without_licenses(service: Service) -> None:
    """Sixty outdated dependencies: all listed (they are the answer), their licenses counted instead."""
    service.auditor.osv = FakeOsv({})  # type: ignore[assignment]
    deps = {f"dep-{i:02}-pkg": "npm:express@^4" for i in range(60)}
    result = await service.call("audit", {"manifest": json.dumps({"dependencies": deps})})
    assert isinstance(result, AuditResult) and len(result.dependencies) == 60
    assert all(e.status == "outdated" and e.license is None and e.group is None for e in result.dependencies)
    assert result.licenses == {"MIT": 60}
    assert len(compact_json(result).encode()) <= 8 * 1024


# -- live: the recorded real manifests against the registries this machine reaches (`pytest -m live`) -----


@pytest.mark.live
@pytest.mark.parametrize(
    ("manifest", "registry", "source", "count"),
    [
        ("ai-chatbot.package.json", "npm", "package.json", 69),
        ("text-generation-webui.requirements.txt", "pypi", "requirements", 47),
        ("poetry.pyproject.toml", "pypi", "pyproject", 36),
    ],
)
async def test_live_audit_of_real_manifests(
    manifest: str, registry: str, source: str, count: int, tmp_path: Path
) -> None:
    from mcp_registries.settings import Settings

    live = Service(Settings.from_env(cache_dir=tmp_path))
    try:
        with anyio.fail_after(60):
            result = await live.call(
                "audit", {"manifest": data(f"manifests/{manifest}").decode(), "full": True}
            )
    finally:
        await live.aclose()
    assert isinstance(result, AuditResult) and (result.registry, result.source) == (registry, source)
    assert sum(result.summary.values()) == len(result.dependencies) == count
    assert "error" not in result.summary and "not-found" not in result.summary
    checked = [e for e in result.dependencies if e.status != "unchecked"]
    assert checked and all(e.resolved_version and e.latest_version for e in checked)
    # OSV is not reachable from this machine: unknown, said once, never "none".
    assert all(e.vulnerabilities is None for e in checked) or all(
        e.vulnerabilities is not None for e in checked
    )
