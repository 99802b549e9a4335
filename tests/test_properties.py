"""Property tests over the nine tools: hostile arguments get an answer or one short sentence, never a
crash or a traceback, and never a request outside the configured bases, for a rejected name, query or
manifest, for a package the arguments do not name, or in a shape the registries do not document.

The mock upstream here also serves npm's search endpoint and PyPI's project index, so that `search` and
the did-you-mean of every not-found answer are fuzzed through their answers, not only their errors.

`audit` is judged by tests/manifest_oracle.py, which reads plain manifests and requirement lists on its own
(the exact packages whose documents must be asked for, and nothing else) and, for any other text, allows only
the names the text could be naming. OSV is off here, as in every test, except where one test turns it on
against a fake that answers from the hand-written OSV recordings.

Examples per test come from MCP_REGISTRIES_HYPOTHESIS_EXAMPLES (default 100; e.g. 2000 for a long
local run). Runs are derandomized, so CI sees the same examples every time, and write no example
database into the repository.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin

import anyio
import httpx
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from mcp_types import CallToolResult, TextContent

from mcp_registries.cache import NullCache
from mcp_registries.fetching import BadDocument
from mcp_registries.models import Operation
from mcp_registries.operations import FILE_VIEWS, GROUPS, OPERATIONS
from mcp_registries.registries.base import segment, url_under
from mcp_registries.registries.npm_search import search_url
from mcp_registries.server import answer
from mcp_registries.service import Service

from . import manifest_oracle
from .conftest import NPM, NPM_DL, OSV, PROFILE, PYPI, STATS, MockUpstream, data, make_settings

pytestmark = pytest.mark.anyio


# -- what the registries' own grammars and the argument table accept (the oracle) ----------------

SPELLINGS = {"npm": "npm", "node": "npm", "nodejs": "npm", "pypi": "pypi", "python": "pypi", "pip": "pypi"}
PERIODS = ("last-day", "last-week", "last-month", "last-year")
# validate-npm-package-name: URL-safe characters, no leading '.' or '_', optionally '@scope/'.
_NPM_PART = r"[A-Za-z0-9\-~!*'()][A-Za-z0-9\-._~!*'()]*"
NPM_NAME = re.compile(rf"(?:@{_NPM_PART}/)?{_NPM_PART}", re.ASCII)
NPM_VERSION_OR_TAG = re.compile(r"[A-Za-z0-9._+~=\-]+", re.ASCII)
# PEP 508 names, and the characters PEP 440 versions are spelled with.
PYPI_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.ASCII | re.IGNORECASE)
PYPI_VERSION = re.compile(r"[A-Za-z0-9.+!_\-]+", re.ASCII)
LARGEST_PAGE = 2**53 - 1
LARGEST_PAGE_SIZE = 250
LONGEST_QUERY = 200
#: SPEC: an audit reads a manifest of at most 200,000 characters, or at most 500 requirement strings.
LONGEST_MANIFEST = 200_000
MOST_PACKAGES = manifest_oracle.MOST
#: SPEC: page_size defaults to 50, and to 10 for search.
DEFAULT_PAGE_SIZES = {Operation.SEARCH: 10}

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"


def registry_of(raw: Any) -> str | None:
    return SPELLINGS.get(raw.strip().lower()) if isinstance(raw, str) else None


def expected_name(registry: str, raw: str) -> str:
    name = raw.strip()
    return name if registry == "npm" else re.sub(r"[-_.]+", "-", name).lower()


def name_verdict(registry: str, raw: Any) -> str:
    if not isinstance(raw, str):
        return INVALID
    name = raw.strip()
    if registry == "npm":
        return VALID if len(name) <= 214 and NPM_NAME.fullmatch(name) else INVALID
    if not PYPI_NAME.fullmatch(name):
        return INVALID
    return VALID if len(name) <= 100 else UNKNOWN


def version_verdict(registry: str, raw: Any, *, required: bool) -> str:
    if raw is None:
        return INVALID if required else VALID
    if not isinstance(raw, str):
        return INVALID
    version = raw.strip()
    if not version:
        return INVALID if required else VALID
    grammar, longest = (NPM_VERSION_OR_TAG, 256) if registry == "npm" else (PYPI_VERSION, 128)
    # No version or tag starts with '.', so '.' and '..' never reach a URL.
    if not grammar.fullmatch(version) or version.startswith("."):
        return INVALID
    return VALID if len(version) <= longest else UNKNOWN


def count_verdict(raw: Any, largest: int | None) -> str:
    if raw is None:
        return VALID
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return INVALID
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            return INVALID
        raw = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
            return INVALID
        if len(text) > 18:
            return UNKNOWN
        raw = int(text)
    if raw < 1:
        return INVALID
    return UNKNOWN if largest is not None and raw > largest else VALID


def query_verdict(raw: Any) -> str:
    """SPEC: 1-200 characters with some words in them. A lone surrogate (JSON can carry one) is no text."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > LONGEST_QUERY:
        return INVALID
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return INVALID
    return VALID


def searched_text(raw: str) -> str:
    """The words a valid query stands for: whitespace runs collapsed to one space, none around."""
    return " ".join(raw.split())


def whole(raw: Any, default: int) -> int:
    """The number a valid page or page_size argument stands for."""
    return default if raw is None else int(raw.strip()) if isinstance(raw, str) else int(raw)


def period_verdict(raw: Any) -> str:
    return choice_verdict(raw, PERIODS)


def choice_verdict(raw: Any, accepted: tuple[str, ...]) -> str:
    return VALID if raw is None or (isinstance(raw, str) and raw.strip().lower() in accepted) else INVALID


def extra_verdict(raw: Any) -> str:
    """Any string names an extra; whether the release has it is known only once its document is read."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return VALID
    return UNKNOWN if isinstance(raw, str) else INVALID


def environment_verdict(arguments: dict[str, Any]) -> str:
    """tree's PyPI target: extras a list of at most 50 extra names, python '3.X' or '3.X.Y', one of the platforms."""
    extras, python, platform = arguments.get("extras"), arguments.get("python"), arguments.get("platform")
    if extras is not None:
        if not isinstance(extras, list) or len(extras) > 50:
            return INVALID
        name = r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
        if not all(isinstance(e, str) and re.fullmatch(name, e.strip(), re.ASCII) for e in extras):
            return INVALID
    if isinstance(python, str) and not python.strip():
        python = None  # blank text is not given, as for every optional string
    if python is not None and not (
        isinstance(python, str) and re.fullmatch(r"3\.[0-9]{1,2}(\.[0-9]{1,3})?", python.strip(), re.ASCII)
    ):
        return INVALID
    return choice_verdict(platform, ("linux", "macos", "windows"))


def audit_reading(arguments: dict[str, Any]) -> manifest_oracle.Reading:
    """SPEC's audit rules: exactly one of manifest (1-200,000 characters of text, with or without a registry,
    which must then be the manifest's kind) and packages (1-500 non-blank strings, with a registry); null is
    not given. What the manifest or the strings say is then judged by the manifest oracle."""
    raw_registry = arguments.get("registry")
    registry = None if raw_registry is None else registry_of(raw_registry)
    manifest, packages = arguments.get("manifest"), arguments.get("packages")
    if raw_registry is not None and registry is None:
        return manifest_oracle.Reading(INVALID, None)
    if (manifest is None) == (packages is None):
        return manifest_oracle.Reading(INVALID, registry)
    if manifest is not None:
        if not isinstance(manifest, str) or not manifest.strip() or len(manifest) > LONGEST_MANIFEST:
            return manifest_oracle.Reading(INVALID, registry)
        kind = manifest_oracle.kind_of(manifest)
        if registry not in (None, kind):
            return manifest_oracle.Reading(INVALID, registry)
        return manifest_oracle.read_manifest(manifest)
    if registry is None or not isinstance(packages, list) or not 1 <= len(packages) <= MOST_PACKAGES:
        return manifest_oracle.Reading(INVALID, registry)
    if not all(isinstance(item, str) and item.strip() for item in packages):
        return manifest_oracle.Reading(INVALID, registry)
    return manifest_oracle.read_packages(packages, registry)


def verdict(operation: Operation, arguments: dict[str, Any]) -> tuple[str, str | None]:
    """Whether the arguments are valid for the operation (or it depends on a limit or a reading the oracle
    leaves open), and the registry an answer is for."""
    if operation is Operation.AUDIT:
        reading = audit_reading(arguments)
        return reading.verdict, reading.registry
    registry = registry_of(arguments.get("registry"))
    if registry is None:
        return INVALID, None
    params = {p.name for p in OPERATIONS[operation].params}
    verdicts = []
    if "name" in params:
        verdicts.append(name_verdict(registry, arguments.get("name")))
    if "query" in params:
        verdicts.append(query_verdict(arguments.get("query")))
    if "version" in params:
        required = operation is Operation.VERSION
        verdicts.append(version_verdict(registry, arguments.get("version"), required=required))
    if "page" in params:
        verdicts.append(count_verdict(arguments.get("page"), LARGEST_PAGE))
        verdicts.append(count_verdict(arguments.get("page_size"), None))
    if "period" in params:
        verdicts.append(period_verdict(arguments.get("period")))
    if "files" in params:
        verdicts.append(choice_verdict(arguments.get("files"), FILE_VIEWS))
    if "group" in params:
        verdicts.append(choice_verdict(arguments.get("group"), GROUPS))
    if "extra" in params:
        verdicts.append(extra_verdict(arguments.get("extra")))
    if "extras" in params:
        verdicts.append(environment_verdict(arguments))
    worst = INVALID if INVALID in verdicts else UNKNOWN if UNKNOWN in verdicts else VALID
    return worst, registry


# -- what every upstream URL must look like -------------------------------------------------

SEGMENT = r"(?:[A-Za-z0-9\-._~@]|%[0-9A-Fa-f]{2})+"
NORMALIZED = r"[a-z0-9]+(?:-[a-z0-9]+)*"
WINDOW = "|".join(PERIODS)
URL_SHAPES: dict[str, tuple[str, tuple[re.Pattern[str], ...]]] = {
    NPM: (
        "npm",
        (re.compile(rf"(?P<name>{SEGMENT})"), re.compile(rf"(?P<name>{SEGMENT})/(?P<version>{SEGMENT})")),
    ),
    NPM_DL: ("npm", (re.compile(rf"downloads/point/(?P<period>{WINDOW})/(?P<name>{SEGMENT})"),)),
    PYPI: (
        "pypi",
        (
            re.compile(rf"pypi/(?P<name>{NORMALIZED})/json"),
            re.compile(rf"pypi/(?P<name>{NORMALIZED})/(?P<version>{SEGMENT})/json"),
            re.compile(rf"simple/(?P<name>{NORMALIZED})/"),
        ),
    ),
    STATS: ("pypi", (re.compile(rf"api/packages/(?P<name>{NORMALIZED})/recent"),)),
}


def _recorded_metadata_urls() -> frozenset[str]:
    """PEP 658 files named by the recorded Simple API document: the only URLs allowed outside the bases."""
    listing_url = PYPI + "simple/django/"
    files = json.loads(data("pypi/simple-django.json"))["files"]
    return frozenset(
        urljoin(listing_url, f["url"]).split("#", 1)[0] + ".metadata"
        for f in files
        if f["filename"].endswith(".whl")
    )


METADATA_URLS = _recorded_metadata_urls()
#: npm's search endpoint: the only URL with a query string, which must hold exactly text, size and from.
NPM_SEARCH = NPM + "-/v1/search?"
#: PyPI's project index (the Simple API's root), which PyPI's search and did-you-mean read.
PYPI_INDEX = PYPI + "simple/"
#: How many npm results did-you-mean asks for, from the first.
SUGGEST_POOL = 20
#: PyPI search results that carry details, fetched from each one's own documents.
DETAILED = 10


def not_found(result: CallToolResult, registry: str) -> bool:
    """The answer is the error sentence of a package the registry does not have (did-you-mean's case)."""
    return bool(result.is_error and re.match(rf"{registry} package '.+' not found\b", text_of(result)))


def expected_search(operation: Operation, arguments: dict[str, Any]) -> tuple[str, int, int]:
    """The text, size and from of the one npm search a call may send: the search itself, or did-you-mean's."""
    if operation is not Operation.SEARCH:
        return expected_name("npm", arguments["name"]), SUGGEST_POOL, 0
    size = min(whole(arguments.get("page_size"), DEFAULT_PAGE_SIZES[operation]), LARGEST_PAGE_SIZE)
    return searched_text(arguments["query"]), size, (whole(arguments.get("page"), 1) - 1) * size


def assert_search_url(url: str, text: str, size: int, offset: int) -> None:
    """npm's search endpoint, with a query string of exactly text, size and from, each once and as expected."""
    assert url.startswith(NPM_SEARCH) and "#" not in url, url
    fields = parse_qs(url[len(NPM_SEARCH) :], keep_blank_values=True, strict_parsing=True, errors="strict")
    assert fields == {"text": [text], "size": [str(size)], "from": [str(offset)]}, url


def named_by(result: CallToolResult) -> set[str]:
    """The names a PyPI search answer may have fetched documents for: its first results' (normalized)."""
    if result.is_error or result.structured_content is None:
        return set()
    return {expected_name("pypi", hit["name"]) for hit in result.structured_content["results"][:DETAILED]}


def assert_requests_safe(
    sent: list[str], registry: str, arguments: dict[str, Any], operation: Operation, result: CallToolResult
) -> None:
    """Each URL is under one of the registry's bases, in a documented shape, for the name or query that was
    asked. Search, and the did-you-mean of a not-found answer, may also ask npm's search endpoint (for exactly
    the words or name asked) or read PyPI's project index; PyPI's search, the documents of its results."""
    if operation is Operation.AUDIT:
        assert_audit_requests_safe(sent, registry, arguments)
        return
    searching = operation is Operation.SEARCH
    for url in sent:
        if url.startswith(NPM_SEARCH) or url == PYPI_INDEX:
            assert searching or not_found(result, registry), (url, text_of(result)[:300])
        if registry == "npm" and url.startswith(NPM_SEARCH):
            assert_search_url(url, *expected_search(operation, arguments))
            continue
        assert "?" not in url and "#" not in url, url
        if registry == "pypi" and (url in METADATA_URLS or url == PYPI_INDEX):
            continue
        base = next((b for b in URL_SHAPES if url.startswith(b) and URL_SHAPES[b][0] == registry), None)
        assert base is not None, f"{url} is under no {registry} base"
        below = url[len(base) :]
        match = next((m for shape in URL_SHAPES[base][1] if (m := shape.fullmatch(below))), None)
        assert match is not None, f"{url}: {below!r} has no expected shape"
        for value in match.groupdict().values():
            assert unquote(value) not in {".", ".."}, url
        if searching:
            assert registry == "pypi" and unquote(match["name"]) in named_by(result), url
        elif Operation(operation) is Operation.TREE and url != sent[0]:
            # A tree's other documents are its dependencies', named by the documents it read: the shape and
            # the escaping above are what holds; what the caller typed is only in the first.
            pass
        else:
            assert unquote(match["name"]) == expected_name(registry, arguments["name"]), url
        if "period" in match.groupdict():
            assert match["period"] == (arguments.get("period") or "last-month").strip().lower(), url


#: What an audit may ask (OSV is off here): each dependency's package document under the registry's own base,
#: npm's packument, PyPI's JSON API and the Simple API page its adapter follows when the JSON API lists no
#: releases. Never a version document, download counts, a search, the project index, another host.
AUDIT_SHAPES: dict[str, tuple[str, tuple[re.Pattern[str], ...]]] = {
    "npm": (NPM, (re.compile(rf"(?P<name>{SEGMENT})"),)),
    "pypi": (
        PYPI,
        (re.compile(rf"pypi/(?P<name>{NORMALIZED})/json"), re.compile(rf"simple/(?P<name>{NORMALIZED})/")),
    ),
}


def audit_names(registry: str, arguments: dict[str, Any]) -> set[str]:
    """The packages an audit may look up: exactly those of a plain manifest or list (the oracle reads it),
    else every name its text could be naming."""
    reading = audit_reading(arguments)
    if reading.verdict == VALID and reading.names is not None:
        return set(reading.names)
    manifest, packages = arguments.get("manifest"), arguments.get("packages")
    texts = [manifest] if isinstance(manifest, str) else [p for p in packages or [] if isinstance(p, str)]
    return manifest_oracle.named_in(registry, texts)


def audited(url: str, registry: str) -> str | None:
    """The package whose document a URL an audit may send is, or None for any other URL."""
    base, shapes = AUDIT_SHAPES[registry]
    if not url.startswith(base) or "?" in url or "#" in url:
        return None
    match = next((m for shape in shapes if (m := shape.fullmatch(url[len(base) :]))), None)
    return unquote(match["name"]) if match and unquote(match["name"]) not in {".", ".."} else None


def assert_audit_requests_safe(sent: list[str], registry: str, arguments: dict[str, Any]) -> None:
    """Each URL is a package document an audit reads, under the registry's base, for a package the manifest
    or list names; PyPI's Simple API page only after the JSON API was asked for the same project."""
    allowed = audit_names(registry, arguments)
    for url in sent:
        name = audited(url, registry)
        assert name is not None, (
            f"{url} is not a {registry} package document under {AUDIT_SHAPES[registry][0]}"
        )
        assert name in allowed, f"{url}: {name!r} is not a package the arguments name"
        if url.startswith(PYPI + "simple/"):
            assert url_under(PYPI, "pypi", name, "json") in sent, f"{url} before the JSON API's document"


def assert_audit_answer(result: CallToolResult, sent: list[str], reading: manifest_oracle.Reading) -> None:
    """A valid audit is answered: every registry dependency's document was asked for (and no other), every
    dependency listed, problems first, and vulnerabilities unknown (OSV is off), never an empty "none"."""
    assert not result.is_error, text_of(result)
    assert reading.registry is not None and reading.names is not None
    assert {audited(url, reading.registry) for url in sent} == reading.names, sent
    answer_ = result.structured_content
    assert answer_ is not None and answer_["registry"] == reading.registry
    entries = answer_["dependencies"]
    total = sum(answer_["summary"].values())
    if reading.entries is not None:
        assert total == reading.entries
    statuses = [entry["status"] for entry in entries]
    listed = {status: statuses.count(status) for status in dict.fromkeys(statuses)}
    if len(entries) < total:
        # Past the size limit the dependencies without a problem are counted in a note, not listed.
        unlisted = {s: n - listed.get(s, 0) for s, n in answer_["summary"].items() if n != listed.get(s, 0)}
        assert set(unlisted) <= {"ok", "unchecked"}, (unlisted, answer_["summary"])
        assert any(
            note.startswith(f"{sum(unlisted.values())} dependencies without a problem")
            for note in answer_["notes"]
        )
    else:
        assert answer_["summary"] == listed
    # Problems first: each status together, the fine ones last.
    assert statuses == sorted(statuses, key=list(dict.fromkeys(statuses)).index)
    assert "ok" not in statuses or set(statuses[statuses.index("ok") :]) == {"ok"}
    assert all("vulnerabilities" in entry and entry["vulnerabilities"] is None for entry in entries)
    if any(entry.get("resolved_version") for entry in entries):
        assert any(note.startswith("vulnerabilities unknown") for note in answer_["notes"]), answer_["notes"]


# -- what every answer must look like -------------------------------------------------------

LONGEST_SENTENCE = 300


def text_of(result: CallToolResult) -> str:
    """The result's only content block, which is text."""
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


def assert_answer_or_sentence(result: CallToolResult, registry: str | None) -> None:
    """A success with structured content for the right registry, or one short printable sentence."""
    text = text_of(result)
    if result.is_error:
        assert result.structured_content is None
        assert text.strip() and text.isprintable(), repr(text[:400])
        assert len(text) <= LONGEST_SENTENCE, f"{len(text)} characters: {text[:400]!r}"
        for leak in ("Traceback", 'File "', "Error executing tool", "Internal error"):
            assert leak not in text, text
        text.encode("utf-8")
        return
    structured = result.structured_content
    assert structured is not None and structured["registry"] in {"npm", "pypi"}
    assert structured["registry"] == registry
    assert json.loads(text)["registry"] == registry


#: PyPI's project index as served here: the recorded projects, other spellings and near misses of them,
#: projects without a document (their results carry the name only), and long names that are each other's
#: typos (did-you-mean sentences that quote long names).
LONG = "a-very-long-project-name-" * 3 + "with-a-tail"
INDEX_NAMES = (
    "requests", "requests-oauthlib", "requests-toolbelt", "request", "Django", "django-rest-framework",
    "djangorestframework", "zope.interface", "zope.event", "Zope-Interface-Tools", "typing_extensions",
    "typing-inspect", "botocore", "boto3", "gitlab", "python-gitlab", "pytz", "pytzdata", "numpy",
    "transformers", "apache-airflow", "ray", "pydantic-core", "no-such-projects", "reqeusts-typo",
    LONG, LONG + "s", LONG[:-1], LONG + "x", "a", "ab", "abc",
)  # fmt: skip
#: What npm's search answers (from `from`, `size` of them), whatever the words: its ranking is its own.
SEARCH_NAMES = (
    "react", "react-dom", "reactt-router", "@types/react", "express", "JSONStream", "jsonstream", "ms",
    "@types/node", "full-example", "request", "requests", *(f"package-{i}" for i in range(30)),
)  # fmt: skip


def _npm_search(request: httpx.Request) -> httpx.Response:
    """The documented shape of npm's search answer, for `from` and `size` as the request gives them."""
    fields = parse_qs(request.url.query.decode())
    try:
        start, size = int(fields["from"][0]), int(fields["size"][0])
    except (KeyError, ValueError):
        return httpx.Response(400, json={"error": "bad search parameters"})
    objects = [
        {
            "package": {"name": name, "version": "1.0.0", "description": f"About {name}.",
                        "date": "2024-05-01T12:00:00.000Z"},
            "score": {"final": 0.5, "detail": {"quality": 0.5, "popularity": 0.5, "maintenance": 0.5}},
            "searchScore": 1.0,
        }
        for name in SEARCH_NAMES[start : start + size]
    ]  # fmt: skip
    return httpx.Response(200, json={"objects": objects, "total": len(SEARCH_NAMES), "time": "now"})


class SearchingUpstream(MockUpstream):
    """The recorded documents, npm's search endpoint for any words, and PyPI's project index (PEP 691 JSON)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(NPM_SEARCH):
            self.hits[url] += 1
            return _npm_search(request)
        if url == PYPI_INDEX:
            self.hits[url] += 1
            projects = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in INDEX_NAMES]}
            return httpx.Response(
                200, json=projects, headers={"content-type": "application/vnd.pypi.simple.v1+json"}
            )
        return super().handle(request)


@pytest.fixture
def upstream() -> MockUpstream:
    """The conftest's mock upstream, searchable: the service fixtures are built over this one here."""
    return SearchingUpstream()


class Wired:
    """The service and the mock upstream behind it, shown briefly in Hypothesis' failure reports."""

    def __init__(self, service: Service, upstream: MockUpstream) -> None:
        self.service = service
        self.upstream = upstream

    def __repr__(self) -> str:
        return "Wired(service over the mock upstream)"


@pytest.fixture
def wired(service: Service, upstream: MockUpstream) -> Wired:
    return Wired(service, upstream)


async def call(
    wired: Wired, operation: Operation, arguments: dict[str, Any]
) -> tuple[CallToolResult, list[str]]:
    """One tool call through `answer`, and the URLs the mock upstream saw because of it."""
    before = wired.upstream.hits.copy()
    with anyio.fail_after(30):
        result = await answer(wired.service, OPERATIONS[operation], arguments)
    return result, list((wired.upstream.hits - before).elements())


# -- strategies -----------------------------------------------------------------------------

NASTY = (
    "../", "..", ".", "..%2f", "%2e%2e", "%2E%2E/", "/", "//", "\\", "..\\", "..;/", "#", "#frag", "?", "?a=1",
    "&", "&x=y", "=", "@", "@scope/..", "@scope/../x", "@../", "%", "%00", "%2F", "%2f", "%25", "%zz", "%%",
    "\x00", "\n", "\r\n", "\t", " ", "\x7f", "\x1c", "\x85", "\u2028", "\u202e", "\u200d", "\u200b", "\ufeff",
    "／", "．．", "а", "е", "\u212a", "e\u0301", "\u0301", "ﬁ", "ß", "İ", "\U0001f600", "\U000e0001",
    "\ud800", "ｒｅａｃｔ", "http://evil.test/", "file:///etc/passwd", "~", "!", "*", "'", "(", ")", ":", ";",
    '"', "<", ">", "{", "}", "|", "^", "`", "[", "]", "$", "+", ",", "-", "_", "1", "A",
)  # fmt: skip
#: Names the mock upstream has recorded (and a few near misses), per registry.
KNOWN = {
    "npm": ("react", "express", "@types/node", "JSONStream", "jsonstream", "ms", "full-example", "gone-widget",
            "reactt"),
    "pypi": ("requests", "Django", "django", "zope.interface", "Zope_Interface", "typing_extensions",
             "Typing-Extensions", "botocore", "gitlab", "pytz", "no-such-project"),
}  # fmt: skip
KNOWN_NAMES = KNOWN["npm"] + KNOWN["pypi"]
KNOWN_VERSIONS = (
    "18.2.0", "latest", "next", "4.18.2", "20.11.0", "2.31.0", "4.2", "4.2.0", "v18.2.0", "=18.2.0",
    " 18.2.0 ", "1.0.0-beta.1", "1!2.0", "1.0+local", "99.0.0", "",
)  # fmt: skip

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
nasty = st.sampled_from(NASTY)
pieces = st.one_of(nasty, st.sampled_from(KNOWN_NAMES), st.text(max_size=4))
stitched = st.lists(pieces, max_size=8).map("".join)
#: Characters repr() escapes into 4 to 10: control, format (bidi, zero-width), separators, private use.
unprintable = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"])
huge = st.builds(
    lambda piece, times: (piece * times)[:100_000],
    st.one_of(nasty, unprintable, st.sampled_from(KNOWN_NAMES), st.text(min_size=1, max_size=3)),
    st.one_of(st.integers(1, 100_000), st.sampled_from([60, 100, 214, 215, 256, 257, 1000, 100_000])),
)
npm_names = st.from_regex(
    r"(@[a-z0-9][a-z0-9._~-]{0,10}/)?[A-Za-z0-9~!*'()-][A-Za-z0-9._~!*'()-]{0,30}", fullmatch=True
)
pypi_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?", fullmatch=True)
valid_names = st.one_of(st.sampled_from(KNOWN_NAMES), npm_names, pypi_names)
wrapped = st.builds(lambda before, name, after: before + name + after, stitched, valid_names, stitched)
texts = st.one_of(st.text(), stitched, wrapped, huge)


def spelled(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of `words` in random case, between random surrounding whitespace."""
    space = st.text(alphabet=" \t\r\n\u3000\xa0", max_size=3)
    cased = st.sampled_from(words).flatmap(
        lambda word: st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
            lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
        )
    )
    return st.builds(lambda before, word, after: before + word + after, space, cased, space)


periods = spelled(PERIODS)
versions = st.one_of(
    st.just("latest"),
    st.sampled_from(KNOWN_VERSIONS),
    st.from_regex(r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True),
)
odd_numbers = st.sampled_from(
    [0, 1, 250, 251, 2**31, LARGEST_PAGE, LARGEST_PAGE + 1, 2**63, -(2**63), 10**4300, -(10**4300), True, False,
     1.0, 1.5, -1.0, 1e300, math.inf, math.nan]
)  # fmt: skip
# Digits str.isdigit() accepts but int() does not ('²', '①'), or int() accepts but are not ASCII ('٣').
odd_numerals = st.sampled_from(
    ["1", " 2 ", "+3", "-1", "0", "²", "①", "٣", "1e3", "0x10", "1_000", "--5", "-+5", "5\x00", "9" * 30,
     "9" * 5000]
)  # fmt: skip
counts = st.one_of(
    st.integers(-3, 300), st.integers(), odd_numbers, odd_numbers, st.floats(), odd_numerals, odd_numerals
)
WORDS = ("http client", "react", "reqeusts", "django rest framework", "zope interface", "types node", "a",
         "ab", "typing", "json stream", "@types/", "no-such-project", "ｒｅａｃｔ", "e\u0301", "\U0001f600")  # fmt: skip
#: Whitespace str.split() cuts at, ASCII or not (a query's words are what is left between them).
SPACES = " \t\r\n\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000"
spaces = st.text(alphabet=SPACES, max_size=4)
#: Words as a careful caller writes them: from the list, or any short text, between spaces.
plausible_queries = st.builds(
    lambda before, words, after: before + words + after,
    spaces,
    st.one_of(st.sampled_from(WORDS), st.sampled_from(KNOWN_NAMES), st.text(min_size=1, max_size=30)),
    spaces,
)
#: Queries around SPEC's bounds: no words (only whitespace), 199 to 201 characters, a lone surrogate.
edge_queries = st.one_of(
    st.text(alphabet=SPACES, max_size=300),
    st.builds(
        lambda piece, length: (piece * LONGEST_QUERY)[:length],
        st.sampled_from(["a", "ab ", " x", "\u3000é"]),
        st.integers(LONGEST_QUERY - 1, LONGEST_QUERY + 1),
    ),
    st.builds(lambda query: query + "\ud800", plausible_queries),
)


# Manifests and requirement strings for audit: the shapes people write (the oracle reads them exactly), the
# real manifests recorded from popular projects, and all of these cut short or spliced with any text.

MANIFESTS = Path(__file__).parent / "data" / "manifests"
REAL_MANIFESTS = tuple(path.read_text(encoding="utf-8") for path in sorted(MANIFESTS.iterdir()))
#: Any character at all, and often one that readers and answers trip on: a lone surrogate (JSON escapes it,
#: '\\ud800', into a manifest's strings), NUL, a quote, a backslash, a line break, a bidi override, a BOM.
any_characters = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.sampled_from(["\ud800", "\udfff", "\x00", '"', "\\", "\n", "\u2028", "\u202e", "\ufeff", "@", "/"]),
)


def any_text(max_size: int) -> st.SearchStrategy[str]:
    """Text of `any_characters`, lone surrogates kept (st.text leaves them out whatever its alphabet)."""
    return st.lists(any_characters, max_size=max_size).map("".join)


NPM_SPECS = (
    "^4.18.2", "~1.1.0", "*", "", "latest", "next", "4.x", ">=1 <3", "^18 || ^19", "2.1.3", "=2.1.3", "v1.0.0",
    "1.0.0-beta.1", " ^2 ", "npm:ms@^2", "npm:@types/node@20", "npm:react", "npm:left-pad@", "npm:_bad@1",
    "git+https://example.test/x.git", "github:user/repo", "user/repo", "file:../local", "workspace:*",
    "link:../x", "https://example.test/x.tgz", "./x.tgz", "x.tgz", "1.0.0-x.tar", "^1.2.3 - 2", "<>1", "@",
)  # fmt: skip
#: Names npm's grammar refuses, and names a URL could misread.
ODD_NPM_NAMES = ("_private", ".hidden", "Has Space", "x" * 215, "@scope/", "..", "@scope/..", "react/../x",
                 "%2e%2e", "é", "react\n", " react")  # fmt: skip
npm_dependency_names = st.one_of(
    st.sampled_from(KNOWN["npm"]), st.sampled_from(KNOWN["npm"]), npm_names, st.sampled_from(ODD_NPM_NAMES)
)
npm_specs = st.one_of(
    *[st.sampled_from(NPM_SPECS)] * 4,
    st.sampled_from(KNOWN["npm"] + ODD_NPM_NAMES).map(lambda target: f"npm:{target}@^1"),
    any_text(8),
    json_values,
)
package_jsons = st.builds(
    lambda top, groups, indent: json.dumps({**top, **groups}, indent=indent),
    st.fixed_dictionaries(
        {}, optional={"name": st.just("shop"), "version": st.just("1.0.0"), "workspaces": st.just(["a"])}
    ),
    st.dictionaries(
        st.sampled_from(manifest_oracle.NPM_GROUPS),
        st.one_of(
            st.dictionaries(
                st.one_of(npm_dependency_names, npm_dependency_names, any_text(6)),
                npm_specs,
                max_size=4,
            ),
            json_values,
        ),
        max_size=4,
    ),
    st.sampled_from([None, 2]),
)
PYPI_SPECIFIERS = ("", ">=2.31", "==2.31.0", "<4", "~=1.4", "!=1.*", ">=1,<3", " (>=1.2.1,<2.0.0)", "==4.2.*",
                   " >= 1.0a1", "==1.0+local", "<=0.0", "===1.0", ">=1.2.*", "~=1", ">=")  # fmt: skip
PYPI_MARKERS = ("", ' ; python_version >= "3.8"', "; sys_platform == 'win32'",
                '; platform_system == "Linux" and platform_machine == "x86_64"', "; nonsense")  # fmt: skip
pypi_dependency_names = st.one_of(
    st.sampled_from(KNOWN["pypi"]),
    st.sampled_from(KNOWN["pypi"]),
    pypi_names,
    st.sampled_from(["a.zip", "x_"]),
)
pep508_strings = st.builds(
    lambda name, extras, specifier, marker: name + extras + specifier + marker,
    pypi_dependency_names,
    st.sampled_from(["", "[socks]", "[a, b]"]),
    st.sampled_from(PYPI_SPECIFIERS),
    st.sampled_from(PYPI_MARKERS),
)
pep508_urls = st.builds(
    lambda name: f"{name} @ https://example.test/{name}-1.0.tar.gz", pypi_dependency_names
)
OTHER_REQUIREMENT_LINES = (
    "# a comment", "", "   ", "-r base.txt", "-c constraints.txt", "--index-url https://pypi.example.test/simple",
    "--extra-index-url=https://x.test/simple", "--pre", "-e git+https://github.com/example/tool.git#egg=tool",
    "-e .", "https://example.test/pkg-1.0-py3-none-any.whl", "git+https://github.com/example/lib.git",
    "--no-such-option", "./local/folder", "requests \\", "${HOME}/x.whl",
)  # fmt: skip
requirement_lines = st.one_of(
    st.builds(
        lambda requirement, hashes, comment: requirement + hashes + comment,
        pep508_strings,
        st.sampled_from(["", " --hash=sha256:" + "ab" * 32]),
        st.sampled_from(["", "  # pinned"]),
    ),
    *[pep508_strings] * 4,
    st.sampled_from(OTHER_REQUIREMENT_LINES),
    st.sampled_from(OTHER_REQUIREMENT_LINES),
    any_text(12),
)
requirements_files = st.builds(
    lambda lines, end: end.join(lines),
    st.lists(requirement_lines, min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
)
POETRY_CONSTRAINTS = ("^2.31", "~1.2", "*", ">=1,<3", "1.2.3", "", "^0.0", "1.2.*", "^1 || ^2")
poetry_values = st.one_of(
    st.sampled_from(POETRY_CONSTRAINTS).map(json.dumps),
    st.builds(
        lambda constraint, more: f"{{ version = {json.dumps(constraint)}{more} }}",
        st.sampled_from(POETRY_CONSTRAINTS),
        st.sampled_from(["", ", optional = true", ', extras = ["socks"]', ', python = ">=3.10"']),
    ),
    st.sampled_from(['{ git = "https://example.test/x.git" }', '{ path = "../x" }', "3", "[]",
                     '[{ version = "^1", python = "<3.10" }, { version = "^2", python = ">=3.10" }]']),
)  # fmt: skip


def _toml_table(header: str, entries: dict[str, str]) -> str:
    return f"[{header}]\n" + "".join(f"{json.dumps(key)} = {value}\n" for key, value in entries.items())


pep621_pyprojects = st.builds(
    lambda name, runtime, extras, groups: (
        f'[project]\nname = {json.dumps(name)}\nversion = "1.0"\n'
        f"dependencies = {json.dumps(runtime)}\n\n"
        + _toml_table("project.optional-dependencies", {k: json.dumps(v) for k, v in extras.items()})
        + _toml_table("dependency-groups", {k: json.dumps(v) for k, v in groups.items()})
    ),
    st.sampled_from(["demo-app", "Demo_App"]),
    st.lists(st.one_of(pep508_strings, pep508_urls), max_size=4),
    st.dictionaries(st.sampled_from(["socks", "all"]), st.lists(pep508_strings, max_size=3), max_size=2),
    st.dictionaries(
        st.sampled_from(["dev", "test"]),
        st.lists(st.one_of(pep508_strings, st.just({"include-group": "dev"})), max_size=3),
        max_size=2,
    ),
)
poetry_pyprojects = st.builds(
    lambda runtime, dev, extras: (
        '[tool.poetry]\nname = "demo-app"\n\n'
        + _toml_table("tool.poetry.dependencies", {"python": '"^3.9"', **runtime})
        + _toml_table("tool.poetry.group.dev.dependencies", dev)
        + _toml_table("tool.poetry.extras", {"all": json.dumps(extras)})
    ),
    st.dictionaries(pypi_dependency_names, poetry_values, max_size=4),
    st.dictionaries(pypi_dependency_names, poetry_values, max_size=3),
    st.lists(pypi_dependency_names, max_size=3),
)
plain_manifests = st.one_of(package_jsons, requirements_files, pep621_pyprojects, poetry_pyprojects)
#: A real or plain manifest cut short, or with any text put in anywhere.
spliced_manifests = st.builds(
    lambda text, at, piece, cut: (text[:at] + piece + text[at:])[: None if cut else at + len(piece)],
    st.one_of(plain_manifests, st.sampled_from(REAL_MANIFESTS)),
    st.integers(0, 4000),
    st.one_of(any_text(10), nasty, st.sampled_from(['"', "{", "[", "\\", "\n["])),
    st.booleans(),
)
manifests = st.one_of(
    package_jsons, requirements_files, pep621_pyprojects, poetry_pyprojects, st.sampled_from(REAL_MANIFESTS),
    spliced_manifests,
)  # fmt: skip
#: Mostly names npm's grammar takes: one refused name refuses the whole list.
npm_item_names = st.one_of(
    *[st.sampled_from(KNOWN["npm"])] * 4, npm_names, npm_names, st.sampled_from(ODD_NPM_NAMES)
)
npm_items = st.one_of(
    npm_item_names,
    st.builds(lambda name, spec: f"{name}@{spec}", npm_item_names, st.sampled_from(NPM_SPECS)),
    st.builds(lambda alias, target: f"{alias}@npm:{target}@^1", npm_names, st.sampled_from(KNOWN["npm"])),
)
npm_item_lists = st.lists(npm_items, min_size=1, max_size=6)
pypi_item_lists = st.lists(st.one_of(pep508_strings, pep508_strings, pep508_urls), min_size=1, max_size=6)
package_lists = st.one_of(
    npm_item_lists, pypi_item_lists, st.lists(st.one_of(npm_items, pep508_strings), min_size=1, max_size=6)
)
#: Around SPEC's bounds and beside the point: no text, 200,000 characters or one more, not text at all.
edge_manifests = st.one_of(
    st.sampled_from(["", " \n\t", "x" * LONGEST_MANIFEST, "x" * (LONGEST_MANIFEST + 1), "{", "[project]",
                     "# only a comment\n", "\ufeff" + REAL_MANIFESTS[0], "[tool]\nx = 1\n", '{"lockfileVersion": 3}']),
    st.text(alphabet=SPACES, max_size=20),
)  # fmt: skip
edge_package_lists = st.one_of(
    st.just([]),
    st.lists(st.one_of(texts, npm_items, pep508_strings, json_values), min_size=1, max_size=6),
    st.sampled_from([[" "], ["react", ""], ["ms"] * (MOST_PACKAGES + 1), ["requests\nflask"], ["-r x.txt"]]),
)


#: Per argument: a value a careful caller would send, and anything at all.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "registry": spelled(tuple(SPELLINGS)),
    "name": st.one_of(st.sampled_from(KNOWN_NAMES), valid_names),
    "version": versions,
    "page": st.integers(1, 5),
    "page_size": st.integers(1, 300),
    "period": periods,
    "files": spelled(FILE_VIEWS),
    "group": spelled(GROUPS),
    "extra": st.sampled_from(["socks", "use-chardet-on-py3", "argon2", "bcrypt", "all", "dev"]),
    "query": plausible_queries,
    "manifest": manifests,
    "packages": package_lists,
    "extras": st.lists(st.sampled_from(["standard", "socks", "all", "Dev_Tools", "x.y"]), max_size=3),
    "python": st.sampled_from(["3.12", "3.8", " 3.11 ", "3.13.1"]),
    "platform": spelled(("linux", "macos", "windows")),
}
HOSTILE: dict[str, st.SearchStrategy[Any]] = {
    "registry": st.one_of(spelled(tuple(SPELLINGS)), texts, json_values),
    "name": st.one_of(valid_names, wrapped, texts, json_values),
    "version": st.one_of(versions, texts, json_values),
    "page": st.one_of(counts, counts, texts, json_values),
    "page_size": st.one_of(counts, counts, texts, json_values),
    "period": st.one_of(periods, texts, json_values),
    "files": st.one_of(spelled(FILE_VIEWS), texts, json_values),
    "group": st.one_of(spelled(GROUPS), texts, json_values),
    "extra": st.one_of(texts, json_values),
    "query": st.one_of(edge_queries, texts, wrapped, json_values),
    "manifest": st.one_of(edge_manifests, texts, json_values),
    "packages": st.one_of(edge_package_lists, json_values),
    "extras": st.one_of(st.lists(st.one_of(texts, json_values), max_size=4), texts, json_values),
    "python": st.one_of(st.sampled_from(["2.7", "3", "3.x", "4.0", "3.123", ""]), texts, json_values),
    "platform": st.one_of(spelled(("linux", "macos", "windows")), texts, json_values),
}
#: The arguments that name what a tool looks up: left out only when they are the hostile ones.
SUBJECTS = {"registry", "name", "query"}
extra_keys = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in PLAUSIBLE), json_values, max_size=3
)


@st.composite
def arguments(draw: st.DrawFn) -> dict[str, Any]:
    """Every argument any tool takes, some hostile, some left out, plus unexpected keys."""
    # Mostly one or two hostile arguments, so that each is seen on its own; sometimes none, or all.
    size = draw(st.sampled_from((0, 1, 1, 1, 2, 2, 6)))
    hostile = draw(st.sets(st.sampled_from(sorted(PLAUSIBLE)), min_size=size, max_size=size))
    found = {
        key: draw(HOSTILE[key] if key in hostile else PLAUSIBLE[key])
        for key in PLAUSIBLE
        # Any argument may be missing; the registry, the name and the query only when they are the hostile ones.
        if draw(st.integers(0, 7)) or (key in SUBJECTS and key not in hostile)
    }
    registry = registry_of(found.get("registry"))
    if "name" not in hostile and registry is not None and draw(st.booleans()):
        # A recorded package of the same registry, so that answers are exercised as well as 404s.
        found["name"] = draw(st.sampled_from(KNOWN[registry]))
    if "manifest" in found and "packages" in found and draw(st.integers(0, 3)):
        # audit takes one of the two: mostly one, sometimes both (which it refuses).
        del found[draw(st.sampled_from(("manifest", "packages")))]
    return {**draw(extra_keys), **found}


# -- the tests ------------------------------------------------------------------------------


@PROFILE
@given(value=st.one_of(texts, nasty, st.text(st.characters(codec=None, exclude_categories=()))))
# Hypothesis draws '.' only now and then (at 100 examples, by chance): these two are always tried.
@example(value=".")
@example(value="..")
def test_segment_any_text_is_one_inert_segment_or_refused(value: str) -> None:
    """Any string becomes one escaped path segment (no '/', '?', '#', and it decodes back), except '.' and
    '..', which no escaping makes inert (URL normalizers read even '%2E%2E' as a parent): those are refused."""
    if value in {".", ".."}:
        with pytest.raises(BadDocument, match=re.escape(f"refusing the path segment {value!r}")):
            segment(value)
        return
    escaped = segment(value)
    assert re.fullmatch(SEGMENT, escaped) or (value == "" and escaped == "")
    assert escaped not in {".", ".."}
    assert unquote(escaped, errors="surrogatepass") == value


@PROFILE
@given(parts=st.lists(st.one_of(texts, nasty), min_size=1, max_size=4))
@example(parts=["react", ".."])
def test_url_under_any_segments_stays_below_base(parts: list[str]) -> None:
    """A URL built from any strings starts with the base and has exactly one path segment per string."""
    if any(part in {".", ".."} for part in parts):
        with pytest.raises(BadDocument, match="refusing the path segment '\\.\\.?'"):
            url_under(NPM, *parts)
        return
    url = url_under(NPM, *parts)
    assert url.startswith(NPM)
    assert url[len(NPM) :].split("/") == [segment(p) for p in parts]


HOSTILE_EXAMPLES = (
    # str.isdigit() accepts '²', int() does not: an internal error.
    {"registry": "npm", "name": "react", "page": "²", "page_size": "--5"},
    # A page past 4300 digits made answer() itself raise while writing the JSON text.
    {"registry": "npm", "name": "react", "page": 10**4300},
    {"registry": "npm", "name": "react", "page": -(10**4300), "page_size": 10**4300, "period": 10**4300},
    # Error sentences quoted the whole escaped input: 990 characters for a name, 100 KB for a version.
    {"registry": " NPM\t", "name": "\x00" * 214, "version": "x" * 100_000, "period": "\U000e0001" * 50},
    {"registry": "pip", "name": "\U000e0001" * 100, "version": "\u202e" * 100},
    {"registry": "npm", "name": "@scope/..", "version": "..%2f..%2fetc%2fpasswd", "page": True},
    {"registry": "npm", "name": "..%2f..%2f-%2fall", "period": "last-month\u202e"},
    {"registry": "\ud800", "name": "react"},
    {"registry": "nodejs", "name": "@types/node", "version": "..", "period": " Last-Year "},
    {"registry": "npm", "name": "react\u3000", "version": "18.2.0#/../../x", "page_size": 1e300},
    {"registry": "Python", "name": "Zope_Interface", "version": "4.2", "page": 1.0, "page_size": "250"},
    {"registry": "pypi", "name": "Django", "version": "4.2", "page": 2**53},
    {"registry": "npm", "name": "a" * 214, "version": "1." * 127 + "1"},
    # A lone surrogate cannot be form-encoded into npm's search URL: it was an internal error.
    {"registry": "npm", "query": "react\ud800", "name": "react"},
    {"registry": "pypi", "query": "\udfff", "page_size": 3},
    # The query's words travel as one form-encoded value: '&', '=', '#', '+', '%' and '/' stay in it.
    {"registry": "npm", "query": "a&size=250&from=-1#x /../-/user %2F+q=", "page": 3, "page_size": "7"},
    {"registry": "npm", "query": " \t" + "x" * 198, "page": LARGEST_PAGE, "page_size": 10**4300},
    {"registry": "node", "query": "x" * 200, "page": LARGEST_PAGE, "page_size": 250},
    {"registry": "pypi", "query": "é" * 200 + " "},
    {"registry": "pip", "query": "\u3000\u2028\x85 \t"},
    # A not-found name asked npm's search for its raw spelling, surrounding whitespace included.
    {"registry": "npm", "name": " reactt\t", "query": "react"},
    # Close names quoted in full: three long ones made a did-you-mean sentence of near 400 characters.
    {"registry": "pypi", "name": LONG + "z", "query": LONG},
)


def _with_examples(test: Any) -> Any:
    for arguments_ in HOSTILE_EXAMPLES:
        test = example(arguments=arguments_)(test)
    return test


@pytest.mark.parametrize("operation", list(Operation), ids=str)
@PROFILE
@_with_examples
@given(arguments=arguments())
async def test_answer_any_arguments_is_answer_or_sentence_and_safe(
    wired: Wired, operation: Operation, arguments: dict[str, Any]
) -> None:
    """Any arguments: no exception, a result or one short sentence, and requests only in the expected shapes."""
    result, sent = await call(wired, operation, arguments)
    judged, registry = verdict(operation, arguments)
    event(f"{judged} arguments, {'sentence' if result.is_error else 'answer'}, {len(sent)} requests")
    assert_answer_or_sentence(result, registry)
    if judged == INVALID:
        assert result.is_error and sent == [], (text_of(result), sent)
    if judged == VALID and operation is Operation.SEARCH:
        # Both registries' search is served here: any valid query has an answer (PyPI's index, once read,
        # is kept in the process, so its searches need not send anything).
        assert not result.is_error, text_of(result)
        assert sent or registry == "pypi", "a valid npm search sent no request"
    elif judged == VALID and operation is Operation.AUDIT:
        # An audit asks for exactly the documents of the packages its manifest or list names (maybe none).
        assert_audit_answer(result, sent, audit_reading(arguments))
    elif judged == VALID:
        assert sent, "valid arguments sent no request"
    if sent:
        assert registry is not None
        assert_requests_safe(sent, registry, arguments, operation, result)


AUDIT_EXAMPLES = (
    *({"manifest": text} for text in REAL_MANIFESTS),
    {"manifest": REAL_MANIFESTS[0], "registry": " NodeJS "},
    {"manifest": REAL_MANIFESTS[1], "registry": "npm"},
    {"manifest": "\ufeff" + REAL_MANIFESTS[0]},
    # JSON escapes a lone surrogate into a name or a requirement ('\ud800'), which no answer can carry.
    {"manifest": '{"dependencies": {"\\ud800": "^1", "react": "\\udc00"}}'},
    {"manifest": '{"devDependencies": {"ms": "npm:\\ud800@1"}, "peerDependencies": {"x": {"a": "\\ud800"}}}'},
    # Names a URL could misread are listed, never looked up.
    {
        "manifest": json.dumps(
            {"dependencies": {"..": "^1", "@scope/..": "1", "react/../x": "1", "%2e%2e": "1"}}
        )
    },
    {"manifest": json.dumps({"dependencies": {"my-ms": "npm:ms@^2", "ms": "*", "t": "npm:@types/node@20"}})},
    {"manifest": "Zope_Interface>=1\ntyping.extensions\n-r base.txt\n-e .\n"},
    {"manifest": "-r base.txt\n# nothing else\n"},
    {"manifest": "# only comments\n\n"},
    {"manifest": "[tool]\nx = 1\n"},
    {"manifest": "x" * LONGEST_MANIFEST},
    {"manifest": "x" * (LONGEST_MANIFEST + 1)},
    {"manifest": "requests\n", "packages": ["requests"], "registry": "pypi"},
    {"registry": "pypi"},
    {"registry": "npm", "packages": ["ms"] * MOST_PACKAGES},
    {"registry": "npm", "packages": ["ms"] * (MOST_PACKAGES + 1)},
    {"registry": "npm", "packages": ["@types/node@^20", "x@npm:react@^19", "..@1", "react"]},
    {"registry": "npm", "packages": ["react", "@scope/../x"]},
    {"registry": "pip", "packages": ["Django<4", "zope.interface", "x @ https://example.test/x.whl"]},
    {"registry": "pip", "packages": ["requests\nflask"]},
    {"registry": "npm", "packages": ["react", " "]},
    {"packages": ["react"]},
)


def _with_audit_examples(test: Any) -> Any:
    for arguments_ in AUDIT_EXAMPLES:
        test = example(arguments=arguments_)(test)
    return test


@st.composite
def audit_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """What audit takes: mostly a manifest (its registry left out, or its kind) or a list of one registry's
    requirements with that registry; sometimes both, neither, a registry that does not fit, or a hostile value.
    (Choices are drawn explicitly, their usual case first: one_of would flatten the hostile strategies'
    many branches and make them the rule.)"""
    shape = draw(st.sampled_from(("manifest", "packages", "manifest", "packages", "both", "none")))
    hostile = draw(st.sampled_from((None, None, None, None, "manifest", "packages", "registry")))
    registry = draw(st.sampled_from(("npm", "pypi")))
    found: dict[str, Any] = {}
    if shape in ("manifest", "both"):
        found["manifest"] = draw(HOSTILE["manifest"] if hostile == "manifest" else manifests)
        if isinstance(found["manifest"], str):
            registry = manifest_oracle.kind_of(found["manifest"])
    if shape in ("packages", "both"):
        fitting = npm_item_lists if registry == "npm" else pypi_item_lists
        found["packages"] = draw(HOSTILE["packages"] if hostile == "packages" else fitting)
    given_registry = draw(
        st.sampled_from(
            ("fits", "left out", "other") if found.get("manifest") else ("fits",) * 3 + ("left out", "other")
        )
    )
    if hostile == "registry":
        found["registry"] = draw(HOSTILE["registry"])
    elif given_registry != "left out":
        fits = given_registry == "fits"
        found["registry"] = draw(spelled(tuple(k for k, v in SPELLINGS.items() if (v == registry) == fits)))
    return {**draw(extra_keys), **found}


@PROFILE
@_with_audit_examples
@given(arguments=audit_arguments())
async def test_audit_any_arguments_fetches_only_what_the_manifest_names(
    wired: Wired, arguments: dict[str, Any]
) -> None:
    """Any audit arguments: a sentence before any request when they break SPEC's rules; else an answer (or one
    sentence for a text that is no manifest) whose requests are the documents of the packages named, exactly
    those of a manifest or list the oracle reads, under the registry's base and nowhere else."""
    result, sent = await call(wired, Operation.AUDIT, arguments)
    reading = audit_reading(arguments)
    event(f"{reading.verdict} arguments, {'sentence' if result.is_error else 'answer'}")
    assert_answer_or_sentence(result, reading.registry)
    if reading.verdict == INVALID:
        assert result.is_error and sent == [], (text_of(result), sent)
    elif reading.verdict == VALID:
        assert_audit_answer(result, sent, reading)
    if sent:
        assert reading.registry is not None
        assert_audit_requests_safe(sent, reading.registry, arguments)


#: Long runs of what the readers search through (spaces before a comment, brackets of extras, backslashes
#: of continuations, quotes): SPEC's largest manifest must be read in time linear in its length.
LONG_RUNS = {
    "spaces": " ", "tabs": "\t", "brackets": "[", "extras": "a[", "closing": "]", "backslashes": "\\",
    "comments": " #", "ats": "@", "scopes": "a@", "dashes": "-", "options": " -", "semicolons": ";",
    "quotes": "'", "double-quotes": '"', "parentheses": "(", "colons": ":", "slashes": "/",
    "continuations": "\\\n",
}  # fmt: skip


#: Where the run stands: a whole text, inside a line, inside a package.json's spec, inside a PEP 621 list.
AROUND = {"text": "{}x", "line": "x{}x", "package.json": '{{"dependencies": {{"a": "{}"}}}}',
          "pyproject": '[project]\ndependencies = ["{}"]'}  # fmt: skip


@pytest.mark.parametrize("piece", list(LONG_RUNS.values()), ids=list(LONG_RUNS))
@pytest.mark.parametrize("around", list(AROUND.values()), ids=list(AROUND))
async def test_audit_largest_manifest_is_read_in_linear_time(wired: Wired, piece: str, around: str) -> None:
    """A 200,000-character manifest of one character run, in any format, is an answer or a sentence within
    seconds, not minutes: no reader backtracks quadratically (a call blocks the event loop while it reads)."""
    filler = piece * (LONGEST_MANIFEST // len(piece))
    manifest = around.format(filler)[: LONGEST_MANIFEST - 1] + "x"
    started = time.monotonic()
    result, sent = await call(wired, Operation.AUDIT, {"manifest": manifest})
    assert time.monotonic() - started < 10, f"{time.monotonic() - started:.1f} s"
    assert_answer_or_sentence(result, manifest_oracle.kind_of(manifest))
    assert_audit_requests_safe(sent, manifest_oracle.kind_of(manifest), {"manifest": manifest})
    packages = [piece * (LONGEST_MANIFEST // len(piece) // 2) + "x"]
    for registry in ("npm", "pypi"):
        started = time.monotonic()
        result, sent = await call(wired, Operation.AUDIT, {"registry": registry, "packages": packages})
        assert time.monotonic() - started < 10, f"{time.monotonic() - started:.1f} s"
        assert_answer_or_sentence(result, registry)


# -- audit with OSV on: one querybatch, then the records of the advisories it named ----------------------

#: The OSV records written by hand from OSV's documentation (tests/data/README.md); one is withdrawn.
OSV_RECORDED = (
    "GHSA-qw6h-vgh9-j6wx", "GHSA-2222-3333-4444", "GHSA-9wx4-h78v-vm56", "PYSEC-2099-1", "GHSA-9999-wwww-xxxx",
)  # fmt: skip
WITHDRAWN = {"GHSA-9999-wwww-xxxx"}
#: Ids a querybatch may answer: recorded ones, one OSV has no record of, and ones that would leave the
#: /v1/vulns/ path if pasted into a URL ('.' and '..' no escaping makes inert: never asked for).
OSV_IDS = (*OSV_RECORDED, "GHSA-0000-none-here", "../../v1/querybatch", "..", ".", "a/b", "x?y#z", "%2e%2e",
           "id with space", "\u202e", "")  # fmt: skip
QUERYBATCH = OSV + "v1/querybatch"
VULNS = OSV + "v1/vulns/"


@dataclass
class OsvUpstream(SearchingUpstream):
    """The searchable mock upstream, and OSV: a querybatch answers its queries in turn with the id lists of
    `answers`, /v1/vulns/<id> serves the recorded records (404 for any other id). Every OSV request is kept."""

    answers: list[list[str]] = field(default_factory=list)
    osv: list[tuple[str, str, Any]] = field(default_factory=list)
    #: (ecosystem, name, version) → the ids answered for that query.
    answered: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if not url.startswith(OSV):
            return super().handle(request)
        body = json.loads(request.content) if request.method == "POST" else None
        self.osv.append((request.method, url, body))
        if request.method == "POST" and url == QUERYBATCH:
            results = []
            for number, query in enumerate(body["queries"]):
                ids = self.answers[number % len(self.answers)] if self.answers else []
                self.answered[query["package"]["ecosystem"], query["package"]["name"], query["version"]] = ids
                results.append(
                    {"vulns": [{"id": i, "modified": "2026-01-01T00:00:00Z"} for i in ids]} if ids else {}
                )
            return httpx.Response(200, json={"results": results})
        advisory = unquote(url[len(VULNS) :]) if url.startswith(VULNS) else None
        if request.method == "GET" and advisory in OSV_RECORDED:
            return httpx.Response(200, content=data(f"documented/osv-vulns-{advisory}.json"))
        return httpx.Response(404, content=data("documented/osv-404.json"))


@pytest.fixture
async def osv_wired() -> AsyncIterator[Wired]:
    """A service with OSV turned on, over the OSV-answering mock upstream."""
    upstream = OsvUpstream()
    service = Service(
        make_settings(osv_enabled=True), transport=upstream.transport(), cache=NullCache(), backoff=0.0
    )
    yield Wired(service, upstream)
    await service.aclose()


def assert_osv_requests(
    upstream: OsvUpstream, registry: str, arguments: dict[str, Any], resolved: set[str]
) -> None:
    """OSV is asked with one POST /v1/querybatch under its base, each resolved package version once, for
    packages the arguments name; then GET /v1/vulns/<id>, the id escaped as one path segment, exactly once for
    each id the batch answered but '.' and '..'; nothing else, and nothing at all when nothing resolved."""
    osv = upstream.osv
    if not resolved:
        assert osv == [], osv
        return
    assert [(method, url) for method, url, _ in osv if url == QUERYBATCH] == [("POST", QUERYBATCH)], osv
    body = next(body for _, url, body in osv if url == QUERYBATCH)
    queries = [(q["package"]["ecosystem"], q["package"]["name"], q["version"]) for q in body["queries"]]
    assert len(queries) == len(set(queries)), queries
    assert {ecosystem for ecosystem, _, _ in queries} == {{"npm": "npm", "pypi": "PyPI"}[registry]}
    assert {name for _, name, _ in queries} <= audit_names(registry, arguments), queries
    assert {version for _, _, version in queries} == resolved, queries
    answered = {advisory for ids in upstream.answered.values() for advisory in ids if advisory}
    details = []
    for method, url, _ in osv:
        if url == QUERYBATCH:
            continue
        assert method == "GET" and url.startswith(VULNS), (method, url)
        escaped = url[len(VULNS) :]
        assert re.fullmatch(SEGMENT, escaped) and url == url_under(OSV, "v1", "vulns", unquote(escaped)), url
        details.append(unquote(escaped))
    assert sorted(details) == sorted(answered - {".", ".."}), details


@PROFILE
@example(
    registry="npm",
    packages=["express@^4", "ms", "my@npm:express@4", "nope-nope"],
    answers=[["GHSA-qw6h-vgh9-j6wx", "..", "a/b"], [], ["GHSA-2222-3333-4444", "x?y#z"]],
)
@example(
    registry="pypi",
    packages=["requests==2.31.0", "Django<4", "zope.interface"],
    answers=[["GHSA-9wx4-h78v-vm56", "PYSEC-2099-1", "GHSA-9999-wwww-xxxx", "../../v1/querybatch", "."]],
)
@example(registry="npm", packages=["ms"], answers=[["%2e%2e", "id with space", "\u202e", ""]])
@example(
    registry="pypi",
    packages=["no-such-project", "x @ https://example.test/x.whl"],
    answers=[["PYSEC-2099-1"]],
)
@given(
    registry=st.sampled_from(("npm", "pypi")),
    packages=st.one_of(npm_item_lists, pypi_item_lists),
    answers=st.lists(st.lists(st.sampled_from(OSV_IDS), max_size=4), max_size=3),
)  # fmt: skip
async def test_audit_with_osv_asks_one_batch_and_only_the_advisories_it_named(
    osv_wired: Wired, registry: str, packages: list[str], answers: list[list[str]]
) -> None:
    """With OSV on, an audit sends the registry documents it sends with OSV off, one querybatch for the
    resolved versions and one GET per advisory id OSV answered (escaped, never '.' or '..'); each resolved
    entry lists what OSV answered for it (withdrawn records left out), vulnerable exactly when it lists any."""
    upstream = osv_wired.upstream
    assert isinstance(upstream, OsvUpstream)
    upstream.answers, upstream.osv, upstream.answered = answers, [], {}
    arguments = {"registry": registry, "packages": packages}
    result, sent = await call(osv_wired, Operation.AUDIT, arguments)
    assert_answer_or_sentence(result, registry)
    assert_audit_requests_safe(sent, registry, arguments)
    if result.is_error:
        assert upstream.osv == [] and sent == [], (text_of(result), upstream.osv)
        return
    assert result.structured_content is not None
    entries = result.structured_content["dependencies"]
    resolved = {entry["resolved_version"] for entry in entries if entry.get("resolved_version")}
    assert_osv_requests(upstream, registry, arguments, resolved)
    answered = {advisory for ids in upstream.answered.values() for advisory in ids if advisory}
    for entry in entries:
        if not entry.get("resolved_version"):
            assert "vulnerabilities" in entry and entry["vulnerabilities"] is None, entry
            continue
        listed = [vulnerability["id"] for vulnerability in entry["vulnerabilities"]]
        assert set(listed) <= answered - WITHDRAWN, listed
        assert (entry["status"] == "vulnerable") == bool(listed), entry


#: The tools that look a package up by its name (all but search and audit).
NAMED = [operation for operation in Operation if "name" in {p.name for p in OPERATIONS[operation].params}]


@pytest.mark.parametrize("operation", NAMED, ids=str)
@PROFILE
@example(registry="npm", name="@scope/../../-/user/org.couchdb.user:admin")
@example(registry="npm", name="react/../../../etc/passwd")
@example(registry="npm", name="react%2f..%2f..")
@example(registry="npm", name="ｒｅａｃｔ")
@example(registry="npm", name="re\u0430ct")
@example(registry="pypi", name="\u212aeras")
@example(registry="pypi", name="requests\u200d")
@example(registry="pypi", name="\u202etseuqer")
@example(registry="pypi", name="requests\x00")
@given(registry=spelled(tuple(SPELLINGS)), name=st.one_of(texts, nasty))
async def test_answer_rejected_name_sends_no_request(
    wired: Wired, operation: Operation, registry: str, name: str
) -> None:
    """A name the registry's grammar rejects is an error sentence before any request, whatever the tool."""
    resolved = registry_of(registry)
    assert resolved is not None
    if name_verdict(resolved, name) != INVALID:
        return
    arguments = {"registry": registry, "name": name, "version": "latest", "period": "last-week"}
    result, sent = await call(wired, operation, arguments)
    assert result.is_error and sent == [], (text_of(result), sent)
    assert_answer_or_sentence(result, resolved)


@pytest.mark.parametrize("operation", NAMED, ids=str)
@PROFILE
@example(registry="npm", name="@types/node")
@example(registry="npm", name="JSONStream")
@example(registry="npm", name="!*'()~-x")
@example(registry="npm", name="reactt")
@example(registry="pypi", name="Zope__.--Interface")
@example(registry="pypi", name="  typing_extensions\n")
@example(registry="pypi", name="no-such-project")
@given(
    registry=st.sampled_from(("npm", "pypi")),
    name=st.one_of(st.sampled_from(KNOWN_NAMES), npm_names, pypi_names).map(lambda n: f" {n}\t"),
)
async def test_answer_valid_name_requests_only_that_name(
    wired: Wired, operation: Operation, registry: str, name: str
) -> None:
    """A grammar-valid name is looked up (npm exactly, PyPI normalized) and only under the registry's bases;
    when it is not found, did-you-mean asks for that same name."""
    if name_verdict(registry, name) != VALID:
        return
    arguments = {"registry": registry, "name": name, "version": "latest", "period": "last-week"}
    result, sent = await call(wired, operation, arguments)
    assert sent
    assert_answer_or_sentence(result, registry)
    assert_requests_safe(sent, registry, arguments, operation, result)


@PROFILE
@example(registry="npm", query="\ud800")
@example(registry="pypi", query="requests\udc80")
@example(registry="npm", query=" " * LONGEST_QUERY + "x")
@example(registry="npm", query="x" * (LONGEST_QUERY + 1))
@example(registry="pypi", query="\u3000\u2028\u2029\x1c\x85")
@given(registry=spelled(tuple(SPELLINGS)), query=st.one_of(edge_queries, texts, nasty, json_values))
async def test_search_rejected_query_sends_no_request(wired: Wired, registry: str, query: Any) -> None:
    """A query with no words, past 200 characters, not text, or not a string is a sentence before any request."""
    resolved = registry_of(registry)
    assert resolved is not None
    if query_verdict(query) != INVALID:
        return
    result, sent = await call(wired, Operation.SEARCH, {"registry": registry, "query": query})
    assert result.is_error and sent == [], (text_of(result), sent)
    assert_answer_or_sentence(result, resolved)


@PROFILE
@example(registry="npm", query="react")
@example(registry="npm", query=" http \t\u3000client\n")
@example(registry="npm", query="a&size=250&from=-1#x /../-/user %2F+q=")
@example(registry="npm", query="x" * LONGEST_QUERY)
@example(registry="pypi", query="reqeusts")
@example(registry="pypi", query="Django REST framework")
@example(registry="pypi", query="e\u0301 ｒｅａｃｔ \U0001f600")
@example(registry="pypi", query="a")
@given(
    registry=st.sampled_from(("npm", "pypi")),
    query=st.one_of(plausible_queries, edge_queries, texts, wrapped),
)
async def test_search_valid_query_answers_and_requests_only_that_query(
    wired: Wired, registry: str, query: str
) -> None:
    """A valid query is answered, for its words with whitespace collapsed: npm's search is asked for exactly
    those words; PyPI's search reads only its project index and the documents of the first results."""
    if query_verdict(query) != VALID:
        return
    arguments = {"registry": registry, "query": query}
    result, sent = await call(wired, Operation.SEARCH, arguments)
    assert not result.is_error, text_of(result)
    assert_answer_or_sentence(result, registry)
    answer_ = result.structured_content
    assert answer_ is not None
    assert answer_["query"] == searched_text(query)
    assert (answer_["page"], answer_["page_size"]) == (1, 10)
    assert len(answer_["results"]) <= 10
    if registry == "npm":
        assert len(sent) == 1, sent
        assert [hit["name"] for hit in answer_["results"]] == list(SEARCH_NAMES[:10])
    assert_requests_safe(sent, registry, arguments, Operation.SEARCH, result)


#: Per paginated tool: the arguments besides the page, the list the page holds, the default page size.
PAGINATED = (
    (Operation.VERSIONS, {"registry": "npm", "name": "react"}, "versions", 50),
    (Operation.SEARCH, {"registry": "npm", "query": "react"}, "results", 10),
    (Operation.SEARCH, {"registry": "pypi", "query": "requests"}, "results", 10),
)


@pytest.mark.parametrize(("operation", "asked", "listed", "default"), PAGINATED, ids=lambda v: str(v)[:20])
@PROFILE
@example(page="²", page_size="--5")
@example(page="①", page_size="-+5")
@example(page="٣", page_size=" 7 ")
@example(page=10**4300, page_size=None)
@example(page=None, page_size=10**4300)
@example(page=2.0, page_size=1e300)
@example(page=LARGEST_PAGE, page_size=250)
@example(page=True, page_size=False)
@example(page=2, page_size=3)
@given(
    page=st.one_of(st.none(), counts, counts, texts, json_values),
    page_size=st.one_of(st.none(), counts, counts, texts, json_values),
)
async def test_answer_any_page_and_page_size_is_that_page_or_sentence(
    wired: Wired,
    operation: Operation,
    asked: dict[str, Any],
    listed: str,
    default: int,
    page: Any,
    page_size: Any,
) -> None:
    """Any page and page_size: exactly the page asked for (page_size clamped to 250 with a note), or one sentence."""
    arguments = {**asked, "page": page, "page_size": page_size}
    result, sent = await call(wired, operation, arguments)
    judged, _ = verdict(operation, arguments)
    assert_answer_or_sentence(result, asked["registry"])
    if judged == INVALID:
        assert result.is_error and sent == [], text_of(result)
    if judged != VALID:
        return
    assert not result.is_error, text_of(result)
    answer_ = result.structured_content
    assert answer_ is not None
    number, size = whole(page, 1), whole(page_size, default)
    start, shown_size = (number - 1) * min(size, 250), min(size, 250)
    assert (answer_["page"], answer_["page_size"]) == (number, shown_size)
    assert len(answer_[listed]) == max(0, min(shown_size, answer_["total"] - start))
    if "pages" in answer_:
        assert answer_["pages"] == math.ceil(answer_["total"] / shown_size)
    assert answer_["has_more"] == (start + shown_size < answer_["total"])
    assert any("clamped" in note for note in answer_.get("notes", [])) == (size > 250)
    if sent:
        assert_requests_safe(sent, asked["registry"], arguments, operation, result)


KNOWN_GOOD: tuple[tuple[Operation, dict[str, Any], dict[str, Any]], ...] = (
    (Operation.PACKAGE, {"registry": "npm", "name": "react"}, {"latest_version": "19.3.1"}),
    (Operation.VERSIONS, {"registry": "pypi", "name": "requests", "page_size": 2}, {"page_size": 2}),
    (Operation.VERSION, {"registry": "npm", "name": "@types/node", "version": "20.11.0"}, {"version": "20.11.0"}),
    (Operation.DEPENDENCIES, {"registry": "pypi", "name": "Django", "version": "4.2"}, {"version": "4.2"}),
    (Operation.DOWNLOADS, {"registry": "npm", "name": "express", "period": "last-week"}, {"name": "express"}),
    (Operation.MAINTAINER, {"registry": "pypi", "name": "requests"}, {"name": "requests"}),
    (Operation.SEARCH, {"registry": "npm", "query": " react "}, {"query": "react", "total": len(SEARCH_NAMES)}),
    (Operation.SEARCH, {"registry": "pypi", "query": "Requests", "page_size": 1}, {"query": "Requests", "total": 4}),
    (Operation.AUDIT, {"registry": "npm", "packages": ["express@^4.18.2", "ms"]},
     {"source": "list", "summary": {"outdated": 1, "ok": 1}}),
    (Operation.AUDIT, {"manifest": "Requests>=2.31\nDjango<4\n"},
     {"registry": "pypi", "source": "requirements", "summary": {"outdated": 1, "ok": 1}}),
)  # fmt: skip


async def _known_good(service: Service) -> None:
    for operation, arguments_, expected in KNOWN_GOOD:
        result = await answer(service, OPERATIONS[operation], arguments_)
        assert not result.is_error, (operation, text_of(result))
        assert result.structured_content is not None
        assert result.structured_content == {**result.structured_content, **expected}


@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 4))  # each example is up to 18 calls
@example(
    calls=[
        (Operation.VERSION, {"registry": "npm", "name": "react", "version": "1.0.0/../../x"}),
        (Operation.VERSIONS, {"registry": "npm", "name": "react", "page": 10**4300}),
        (Operation.DEPENDENCIES, {"registry": "pypi", "name": "Django", "version": "\x00"}),
        (Operation.SEARCH, {"registry": "pypi", "query": "\ud800"}),
        (Operation.PACKAGE, {"registry": "pypi", "name": "reqeusts"}),
    ]
)
@given(calls=st.lists(st.tuples(st.sampled_from(list(Operation)), arguments()), min_size=1, max_size=6))
async def test_answer_after_hostile_calls_still_answers_correctly(
    cached_service: Service, calls: list[tuple[Operation, dict[str, Any]]]
) -> None:
    """Hostile calls, concurrent with good ones and sharing a disk cache, leave every tool answering correctly."""

    async def hostile(operation: Operation, arguments_: dict[str, Any]) -> None:
        result = await answer(cached_service, OPERATIONS[operation], arguments_)
        assert_answer_or_sentence(result, verdict(operation, arguments_)[1])

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for operation, arguments_ in calls:
                group.start_soon(hostile, operation, arguments_)
            group.start_soon(_known_good, cached_service)
        await _known_good(cached_service)


@pytest.mark.parametrize(
    ("operation", "arguments", "expected"),
    [
        (Operation.VERSIONS, {"registry": " Pip", "name": "a.b", "page": "2", "x": []}, (VALID, "pypi")),
        (Operation.VERSIONS, {"registry": "npm", "name": "x", "page": True}, (INVALID, "npm")),
        (Operation.VERSIONS, {"registry": "npm", "name": "x", "page": 2**60}, (UNKNOWN, "npm")),
        (Operation.DEPENDENCIES, {"registry": "npm", "name": "x", "version": " "}, (VALID, "npm")),
        (Operation.VERSION, {"registry": "npm", "name": "x", "version": " "}, (INVALID, "npm")),
        (Operation.PACKAGE, {"registry": "npm", "name": "_x", "page": "no"}, (INVALID, "npm")),
        (Operation.PACKAGE, {"registry": "npm", "name": "x", "page": "no"}, (VALID, "npm")),
        (Operation.DOWNLOADS, {"registry": "pypi", "name": "x.", "period": "LAST-DAY"}, (INVALID, "pypi")),
        (Operation.MAINTAINER, {"registry": "cargo", "name": "x"}, (INVALID, None)),
        (Operation.VERSION, {"registry": "npm", "name": "x", "version": "1.0.0", "files": " ALL"}, (VALID, "npm")),
        (Operation.VERSION, {"registry": "npm", "name": "x", "version": "1.0.0", "files": "some"}, (INVALID, "npm")),
        (Operation.DEPENDENCIES, {"registry": "pypi", "name": "x", "group": "Dev "}, (VALID, "pypi")),
        (Operation.DEPENDENCIES, {"registry": "pypi", "name": "x", "extra": 3}, (INVALID, "pypi")),
        (Operation.DEPENDENCIES, {"registry": "pypi", "name": "x", "extra": "socks"}, (UNKNOWN, "pypi")),
        (Operation.PACKAGE, {"registry": "pypi", "name": "x", "extra": 3}, (VALID, "pypi")),
        (Operation.PACKAGE, {"registry": "npm", "name": "x", "query": ""}, (VALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": "http client", "name": "_x"}, (VALID, "npm")),
        (Operation.SEARCH, {"registry": "pip", "query": "x", "page": "2", "page_size": 251}, (VALID, "pypi")),
        (Operation.SEARCH, {"registry": "npm", "query": "x", "page": 0}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": "x", "page_size": 1.5}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "name": "react"}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": " \t\u3000"}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": " " + "x" * 199}, (VALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": " " + "x" * 200}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": "react\ud800"}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "npm", "query": ["react"]}, (INVALID, "npm")),
        (Operation.SEARCH, {"registry": "cargo", "query": "react"}, (INVALID, None)),
        (Operation.AUDIT, {"manifest": '{"dependencies": {"react": "^18"}}'}, (VALID, "npm")),
        (Operation.AUDIT, {"manifest": ' \t{"dependencies": {}}', "registry": "Node"}, (VALID, "npm")),
        (Operation.AUDIT, {"manifest": '{"dependencies": {"react": "^18"}}', "registry": "pip"}, (INVALID, "pypi")),
        (Operation.AUDIT, {"manifest": '{"dependencies": {"react": "what?"}}'}, (UNKNOWN, "npm")),
        (Operation.AUDIT, {"manifest": '{"dependencies": '}, (INVALID, "npm")),
        (Operation.AUDIT, {"manifest": "requests>=2\n", "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"manifest": "requests>=2\n", "registry": None}, (VALID, "pypi")),
        (Operation.AUDIT, {"manifest": "requests>=2\n", "registry": "cargo"}, (INVALID, None)),
        (Operation.AUDIT, {"manifest": "requests>=2\n", "packages": None, "name": "_x"}, (VALID, "pypi")),
        (Operation.AUDIT, {"manifest": "requests>=2\n", "packages": ["requests"]}, (INVALID, None)),
        (Operation.AUDIT, {"manifest": "# a comment only\n"}, (INVALID, "pypi")),
        (Operation.AUDIT, {"manifest": "[tool.black]\nline-length = 100\n"}, (INVALID, "pypi")),
        (Operation.AUDIT, {"manifest": '[project]\ndependencies = ["a>=1"]\n'}, (VALID, "pypi")),
        (Operation.AUDIT, {"manifest": " "}, (INVALID, None)),
        (Operation.AUDIT, {"manifest": "a" * 200_001}, (INVALID, None)),
        (Operation.AUDIT, {"manifest": 3}, (INVALID, None)),
        (Operation.AUDIT, {"registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": ["react"]}, (INVALID, None)),
        (Operation.AUDIT, {"packages": ["react"], "registry": "npm"}, (VALID, "npm")),
        (Operation.AUDIT, {"packages": ["react", " "], "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": [], "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": "react", "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": ["x"] * 501, "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": ["_x@1"], "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": ["_x@1"], "registry": "pypi"}, (UNKNOWN, "pypi")),
        (Operation.AUDIT, {"packages": ["x@npm:y@^1", "Zope_Interface>=1"], "registry": "npm"}, (INVALID, "npm")),
        (Operation.AUDIT, {"packages": ["x@npm:y@^1", "z@what?"], "registry": "npm"}, (UNKNOWN, "npm")),
    ],
)  # fmt: skip
def test_oracle_verdicts_follow_the_argument_table(
    operation: Operation, arguments: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    """The tests' oracle judges arguments as SPEC.md's table and the registries' grammars do."""
    assert verdict(operation, arguments) == expected


def test_oracle_search_urls_are_exactly_text_size_and_from() -> None:
    """The URL check takes npm's search URL as production builds it, and refuses any looser query string."""
    text, size, offset = expected_search(Operation.SEARCH, {"query": " a&b=c #x ", "page": 3, "page_size": 7})
    assert (text, size, offset) == ("a&b=c #x", 7, 14)
    assert_search_url(search_url(NPM, text, offset, size), text, size, offset)
    good = NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7&from=14"
    assert_search_url(good, text, size, offset)
    for bad in (
        NPM_SEARCH + "text=a&b=c+%23x&size=7&from=14",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7&from=14&text=x",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7&from=14&x=1",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=07&from=14",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7&from=14#frag",
        NPM_SEARCH + "text=a%26b%3Dc+%23x&size=7&from=14&",
        NPM_SEARCH + "text=a%26b%3Dc+%FF&size=7&from=14",
        NPM + "-/v1/search/?text=a%26b%3Dc+%23x&size=7&from=14",
    ):
        with pytest.raises((AssertionError, ValueError)):
            assert_search_url(bad, text, size, offset)


def _sentence(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def test_oracle_url_check_takes_the_index_and_search_only_where_documented() -> None:
    """The URL check takes PyPI's index and npm's search for a not-found answer's did-you-mean (for exactly
    the name asked) or a search, and nothing looser: no other query, path or answer."""
    missing = _sentence("pypi package 'x' not found. Did you mean 'y'?")
    asked = {"name": " X\t"}
    assert_requests_safe([PYPI_INDEX, PYPI + "pypi/x/json"], "pypi", asked, Operation.PACKAGE, missing)
    for url in (
        PYPI + "simple",
        PYPI + "simple/?format=json",
        PYPI + "simple//",
        PYPI + "simple/#",
        NPM + "simple/",
    ):
        with pytest.raises(AssertionError):
            assert_requests_safe([url], "pypi", asked, Operation.PACKAGE, missing)
    with pytest.raises(AssertionError):
        assert_requests_safe(
            [PYPI_INDEX], "pypi", asked, Operation.PACKAGE, _sentence("PyPI's JSON API timed out")
        )

    missing = _sentence("npm package 'reactt' not found")
    asked = {"name": " reactt\t"}
    assert_requests_safe([search_url(NPM, "reactt", 0, 20)], "npm", asked, Operation.VERSIONS, missing)
    for url in (search_url(NPM, " reactt\t", 0, 20), search_url(NPM, "reactt", 0, 10),
                search_url(NPM, "reactt", 20, 20), search_url(NPM_DL, "reactt", 0, 20)):  # fmt: skip
        with pytest.raises(AssertionError):
            assert_requests_safe([url], "npm", asked, Operation.VERSIONS, missing)
    for registry, result in (("pypi", _sentence("pypi package 'reactt' not found")), ("npm", _sentence("x"))):
        with pytest.raises(AssertionError):
            assert_requests_safe(
                [search_url(NPM, "reactt", 0, 20)], registry, asked, Operation.VERSIONS, result
            )

    searched = CallToolResult(
        content=[TextContent(type="text", text="{}")],
        structured_content={
            "registry": "pypi",
            "results": [{"name": "Zope.Interface"}, {"name": "zope.event"}],
        },
    )
    asked = {"query": "zope"}
    sent = [PYPI_INDEX, PYPI + "pypi/zope-interface/json", PYPI + "pypi/zope-event/json"]
    assert_requests_safe(sent, "pypi", asked, Operation.SEARCH, searched)
    for url in (
        PYPI + "pypi/zope/json",
        PYPI + "pypi/zope-interface-tools/json",
        search_url(NPM, "zope", 0, 10),
    ):
        with pytest.raises(AssertionError):
            assert_requests_safe([url], "pypi", asked, Operation.SEARCH, searched)
    assert_requests_safe(
        [search_url(NPM, "zope", 10, 10)], "npm", {**asked, "page": 2}, Operation.SEARCH, searched
    )
    with pytest.raises(AssertionError):
        assert_requests_safe([NPM + "zope"], "npm", asked, Operation.SEARCH, searched)


def test_oracle_audit_url_check_takes_only_the_named_packages_documents() -> None:
    """The audit URL check takes each named package's document (npm's packument, PyPI's JSON API, then its
    Simple page) under the registry's own base, and nothing looser: no other name, version documents,
    downloads, search, the index, another base, OSV, a query string or a parent segment."""
    asked = {"registry": "npm", "packages": ["@types/node@^20", "alias@npm:ms@^2", "react"]}
    named = ["@types%2Fnode", "ms", "react"]
    assert_audit_requests_safe([NPM + name for name in named], "npm", asked)
    for url in (
        NPM + "alias",  # the alias, not the package it stands for
        NPM + "types",
        NPM + "react/19.3.1",
        NPM + "react?write=true",
        NPM + "react#x",
        NPM + "..",
        NPM + "%2e%2e",
        NPM + "-/v1/search?text=react&size=20&from=0",
        NPM_DL + "downloads/point/last-month/react",
        PYPI + "pypi/react/json",
        OSV + "v1/querybatch",
        "https://registry.npmjs.org/react",
    ):
        with pytest.raises(AssertionError):
            assert_audit_requests_safe([url], "npm", asked)

    asked = {"manifest": "Zope_Interface>=1\n# requests\nDjango<4 ; python_version >= '3.8'\n"}
    good = [PYPI + "pypi/zope-interface/json", PYPI + "simple/zope-interface/", PYPI + "pypi/django/json"]
    assert_audit_requests_safe(good, "pypi", asked)
    for url in (
        PYPI + "pypi/requests/json",  # named in a comment only
        PYPI + "pypi/Zope_Interface/json",
        PYPI + "pypi/django/4.2/json",
        PYPI + "simple/",
        PYPI + "simple/django/",  # the Simple page before the JSON API was asked
        PYPI + "simple/django",
        STATS + "api/packages/django/recent",
        NPM + "django",
        OSV + "v1/vulns/PYSEC-2099-1",
        next(iter(METADATA_URLS)),
    ):
        with pytest.raises(AssertionError):
            assert_audit_requests_safe([url], "pypi", asked)

    # Outside the plain subset, any name the text could be naming, and only those.
    asked = {"manifest": "req\\\nuests >= 2 @@ what\nx"}
    assert "requests" in audit_names("pypi", asked) and "flask" not in audit_names("pypi", asked)
    assert_audit_requests_safe([PYPI + "pypi/requests/json"], "pypi", asked)
    with pytest.raises(AssertionError):
        assert_audit_requests_safe([PYPI + "pypi/flask/json"], "pypi", asked)
