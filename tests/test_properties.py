"""Property tests over the seven tools: hostile arguments get an answer or one short sentence, never a
crash or a traceback, and never a request outside the configured bases, for a rejected name or query, or
in a shape the registries do not document.

The mock upstream here also serves npm's search endpoint and PyPI's project index, so that `search` and
the did-you-mean of every not-found answer are fuzzed through their answers, not only their errors.

Examples per test come from MCP_REGISTRIES_HYPOTHESIS_EXAMPLES (default 100; e.g. 2000 for a long
local run). Runs are derandomized, so CI sees the same examples every time, and write no example
database into the repository.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin

import anyio
import httpx
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from mcp_types import CallToolResult, TextContent

from mcp_registries.fetching import BadDocument
from mcp_registries.models import Operation
from mcp_registries.operations import FILE_VIEWS, GROUPS, OPERATIONS
from mcp_registries.registries.base import segment, url_under
from mcp_registries.registries.npm_search import search_url
from mcp_registries.server import answer
from mcp_registries.service import Service

from .conftest import NPM, NPM_DL, PROFILE, PYPI, STATS, MockUpstream, data

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


def verdict(operation: Operation, arguments: dict[str, Any]) -> tuple[str, str | None]:
    """Whether the arguments are valid for the operation (or it depends on a limit the oracle leaves open)."""
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
        else:
            assert unquote(match["name"]) == expected_name(registry, arguments["name"]), url
        if "period" in match.groupdict():
            assert match["period"] == (arguments.get("period") or "last-month").strip().lower(), url


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
    elif judged == VALID and operation is not Operation.AUDIT:
        # (An audit's valid arguments may hold a manifest with nothing to look up, or one it cannot read.)
        assert sent, "valid arguments sent no request"
    if sent:
        assert registry is not None
        assert_requests_safe(sent, registry, arguments, operation, result)


#: The tools that look a package up by its name (all but search).
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
