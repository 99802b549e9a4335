"""The parameter table's rules, settings from the environment, and the compact text form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_registries.errors import InvalidArgument
from mcp_registries.models import DependenciesResult, Dependency, Operation, compact_json
from mcp_registries.operations import OPERATIONS, parse_arguments
from mcp_registries.settings import Settings


@pytest.mark.parametrize(
    ("raw", "registry"),
    [("npm", "npm"), (" NPM ", "npm"), ("Node", "npm"), ("nodejs", "npm"), ("pypi", "pypi"), ("PyPI", "pypi"),
     ("python", "pypi"), ("\tpip\n", "pypi")],
)  # fmt: skip
def test_registry_synonyms_case_and_space_insensitive(raw: str, registry: str) -> None:
    """The six registry spellings map to npm or pypi whatever their case and surrounding spaces."""
    assert parse_arguments("package", {"registry": raw, "name": "x"}).registry == registry


@pytest.mark.parametrize("raw", ["cargo", "", "npm2", "py pi", 3, None])
def test_registry_unknown_lists_accepted_values(raw: object) -> None:
    """Anything else is an error sentence listing the accepted values."""
    with pytest.raises(
        InvalidArgument, match=r"use 'npm' or 'pypi' \(synonyms node, nodejs -> npm; python, pip -> pypi\)"
    ):
        parse_arguments("package", {"registry": raw, "name": "x"})


#: The paginated operations, each with the arguments it needs besides the page.
PAGINATED = [("versions", {"registry": "npm", "name": "x"}), ("search", {"registry": "npm", "query": "x"})]


@pytest.mark.parametrize(("operation", "size"), [("versions", 50), ("search", 10)])
def test_page_defaults(operation: str, size: int) -> None:
    """page defaults to 1, and page_size to 50 (search: 10)."""
    query = parse_arguments(operation, dict(PAGINATED)[operation])
    assert (query.page, query.page_size, query.notes) == (1, size, ())


@pytest.mark.parametrize(("operation", "arguments"), PAGINATED)
@pytest.mark.parametrize(
    ("given", "size", "noted"), [(250, 250, False), (251, 250, True), (10_000, 250, True), (1, 1, False)]
)
def test_page_size_clamped_above_250(
    operation: str, arguments: dict[str, object], given: int, size: int, noted: bool
) -> None:
    """page_size above 250 is clamped with a note, not refused."""
    query = parse_arguments(operation, {**arguments, "page_size": given})
    assert query.page_size == size
    assert bool(query.notes) is noted


@pytest.mark.parametrize(("operation", "arguments"), PAGINATED)
@pytest.mark.parametrize("argument", ["page", "page_size"])
@pytest.mark.parametrize("value", [0, -1, "zero", 1.5, True, [], "1e3"])
def test_page_numbers_below_one_or_not_whole_are_errors(
    operation: str, arguments: dict[str, object], argument: str, value: object
) -> None:
    """page and page_size below 1, or not whole numbers, are errors naming the argument."""
    with pytest.raises(InvalidArgument, match=rf"^{argument} must be a whole number of 1 or more"):
        parse_arguments(operation, {**arguments, argument: value})


@pytest.mark.parametrize(("operation", "arguments"), PAGINATED)
def test_page_accepts_numeric_strings(operation: str, arguments: dict[str, object]) -> None:
    """A page given as a numeric string (as some clients send) is accepted."""
    assert parse_arguments(operation, {**arguments, "page": "3"}).page == 3


@pytest.mark.parametrize(
    ("raw", "text"),
    [("react", "react"), (" http \t\u3000client\n", "http client"), ("x" * 200, "x" * 200), ("é", "é"),
     ("a&b=c #d", "a&b=c #d")],
)  # fmt: skip
def test_search_query_is_its_words_with_whitespace_collapsed(raw: str, text: str) -> None:
    """search takes `query` (no `name`): its words, whitespace runs made one space, none around."""
    query = parse_arguments("search", {"registry": "pypi", "query": raw})
    assert (query.text, query.name) == (text, "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [(None, "The 'query' argument is required."), ("", "must have some words"), (" \t\n", "must have some words"),
     ("\u3000\u2028\x85", "must have some words"), ("x" * 201, "at most 200 characters; got 201"),
     (" " + "x" * 200, "at most 200 characters; got 201"), (3, "must be a string"), (["react"], "must be a string"),
     ("react\ud800", "lone surrogate")],
)  # fmt: skip
def test_search_query_without_words_too_long_or_not_text_is_error(raw: object, message: str) -> None:
    """A query missing, without words, past 200 characters, or not text is an error sentence about `query`."""
    with pytest.raises(InvalidArgument, match=re.escape(message)) as raised:
        parse_arguments("search", {"registry": "npm", "query": raw, "name": "react"})
    assert raised.value.argument == "query"


@pytest.mark.parametrize("period", ["last-day", "last-week", "last-month", "last-year", " Last-Week "])
def test_period_accepts_the_four_windows(period: str) -> None:
    """The four download windows are accepted, case-insensitively."""
    assert (
        parse_arguments("downloads", {"registry": "npm", "name": "x", "period": period}).period
        == period.strip().lower()
    )


@pytest.mark.parametrize("period", ["yesterday", "last-decade", "", 7])
def test_period_rejects_anything_else(period: object) -> None:
    """Any other period is an error listing the four."""
    with pytest.raises(InvalidArgument, match="last-day, last-week, last-month, last-year"):
        parse_arguments("downloads", {"registry": "npm", "name": "x", "period": period})


def test_version_required_for_version_optional_for_dependencies() -> None:
    """`version` is required by the version operation only."""
    with pytest.raises(InvalidArgument, match="The 'version' argument is required."):
        parse_arguments("version", {"registry": "npm", "name": "x"})
    assert parse_arguments("dependencies", {"registry": "npm", "name": "x"}).version is None
    assert parse_arguments("dependencies", {"registry": "npm", "name": "x", "version": "  "}).version is None


def test_input_schemas_follow_the_seed_table() -> None:
    """Every seed operation's schema requires registry and name (version: and version), search's registry and
    query; the other parameters are the seed's, plus the arguments that show what a default answer leaves out
    (files, group, extra). audit requires none: it takes a manifest or packages (exactly one, which a schema of
    plain properties cannot say), and its registry is inferred from a manifest."""
    expected = {
        Operation.PACKAGE: (["name"], ["registry", "name"]),
        Operation.VERSIONS: (["name", "page", "page_size"], ["registry", "name"]),
        Operation.VERSION: (
            ["name", "version", "files", "page", "page_size"],
            ["registry", "name", "version"],
        ),
        Operation.DEPENDENCIES: (["name", "version", "group", "extra"], ["registry", "name"]),
        Operation.DOWNLOADS: (["name", "period"], ["registry", "name"]),
        Operation.MAINTAINER: (["name"], ["registry", "name"]),
        Operation.SEARCH: (["query", "page", "page_size"], ["registry", "query"]),
        Operation.AUDIT: (["manifest", "packages", "full"], []),
        Operation.TREE: (
            ["name", "version", "page", "page_size", "extras", "python", "platform"],
            ["registry", "name"],
        ),
    }
    assert set(expected) == set(Operation) == set(OPERATIONS)
    for operation, (params, required) in expected.items():
        schema = OPERATIONS[operation].input_schema()
        assert list(schema["properties"]) == ["registry", *params]
        assert schema["required"] == required
        assert all(prop["description"] for prop in schema["properties"].values())
        assert schema["properties"]["registry"]["enum"] == ["npm", "node", "nodejs", "pypi", "python", "pip"]
        if "page_size" in params:
            page_size = schema["properties"]["page_size"]
            # Larger sizes are clamped, not refused: the schema must not forbid them.
            assert "maximum" not in page_size and page_size["minimum"] == 1
            assert page_size["default"] == {Operation.SEARCH: 10, Operation.TREE: 100}.get(operation, 50)


def test_audit_schema_takes_a_manifest_text_or_requirement_strings() -> None:
    """audit's `manifest` is a string of 1 to 200,000 characters and `packages` an array of non-empty strings,
    each described for the model that fills it in (which formats, that registry goes with packages)."""
    properties = OPERATIONS[Operation.AUDIT].input_schema()["properties"]
    manifest, packages = properties["manifest"], properties["packages"]
    assert (manifest["type"], manifest["minLength"], manifest["maxLength"]) == ("string", 1, 200_000)
    assert all(kind in manifest["description"] for kind in ("package.json", "requirements", "pyproject.toml"))
    assert packages["type"] == "array" and packages["items"] == {"type": "string", "minLength": 1}
    assert "registry" in packages["description"] and "500" in packages["description"]
    assert "inferred" in properties["registry"]["description"]
    assert (properties["full"]["type"], properties["full"]["default"]) == ("boolean", False)


def test_search_query_schema_is_one_to_200_characters() -> None:
    """search's `query` is a string of 1 to 200 characters, described for the model that fills it in."""
    query = OPERATIONS[Operation.SEARCH].input_schema()["properties"]["query"]
    assert (query["type"], query["minLength"], query["maxLength"]) == ("string", 1, 200)
    assert "words" in query["description"]


def test_settings_from_environment(tmp_path: Path) -> None:
    """MCP_REGISTRIES_* variables configure base URLs (slash added), the cache and logging."""
    settings = Settings.from_env(
        {
            "MCP_REGISTRIES_NPM_URL": "https://mirror.test/api/npm/npm-remote",
            "MCP_REGISTRIES_PYPI_URL": "https://mirror.test/pypi/",
            "MCP_REGISTRIES_CACHE": "off",
            "MCP_REGISTRIES_CACHE_DIR": str(tmp_path),
            "MCP_REGISTRIES_LOG_LEVEL": "debug",
        }
    )
    assert settings.npm_url == "https://mirror.test/api/npm/npm-remote/"
    assert settings.pypi_url == "https://mirror.test/pypi/"
    assert settings.cache_enabled is False and settings.cache_dir == tmp_path
    assert settings.npm_downloads_url == "https://api.npmjs.org/"


def test_settings_reject_a_base_url_without_scheme() -> None:
    """A base URL must be http(s)."""
    with pytest.raises(ValueError, match="must start with http"):
        Settings.from_env({"MCP_REGISTRIES_NPM_URL": "registry.local/npm"})


def test_settings_pypi_files_url_from_environment() -> None:
    """MCP_REGISTRIES_PYPI_FILES_URL names PyPI's file host (slash added); PyPI's public one by default."""
    assert Settings.from_env({}).pypi_files_url == "https://files.pythonhosted.org/"
    settings = Settings.from_env({"MCP_REGISTRIES_PYPI_FILES_URL": "https://mirror.test/files"})
    assert settings.pypi_files_url == "https://mirror.test/files/"


@pytest.mark.parametrize(
    "url", ["http://[::1/", "https://mirror.test:99999/", "https:///pypi/", "https://mirror\x01.test/"]
)
def test_settings_reject_a_malformed_base_url(url: str) -> None:
    """A base URL no request could be sent to stops the program at startup, not at every call."""
    with pytest.raises(ValueError, match="must be a well-formed URL with a host"):
        Settings.from_env({"MCP_REGISTRIES_PYPI_URL": url})


def test_compact_json_leaves_out_nulls_empties_and_nested_false() -> None:
    """The text form drops None, empty lists and dicts, and false flags inside list items; top-level flags stay."""
    result = DependenciesResult(
        registry="pypi",
        name="x",
        version="1.0",
        runtime=[Dependency(name="a", requirement=">=1", optional=False)],
    )
    assert (
        compact_json(result)
        == '{"registry":"pypi","name":"x","version":"1.0","runtime":[{"name":"a","requirement":">=1"}]}'
    )


@pytest.mark.parametrize(
    ("arguments", "registry", "manifest", "packages"),
    [({"manifest": '{"dependencies": {}}'}, None, '{"dependencies": {}}', None),
     ({"manifest": "requests\n", "registry": " Python "}, "pypi", "requests\n", None),
     ({"manifest": "x" * 200_000}, None, "x" * 200_000, None),
     ({"manifest": "react", "packages": None}, None, "react", None),
     ({"packages": [" react ", "ms@^2"], "registry": "NODE"}, "npm", None, ("react", "ms@^2")),
     ({"packages": ["p"] * 500, "registry": "pip", "manifest": None}, "pypi", None, ("p",) * 500)],
)  # fmt: skip
def test_audit_takes_a_manifest_or_packages(
    arguments: dict[str, object], registry: str | None, manifest: str | None, packages: tuple[str, ...] | None
) -> None:
    """audit reads exactly one of manifest and packages (null is not given); registry is optional with a
    manifest, a synonym in any case; requirement strings lose their surrounding spaces, a manifest keeps its."""
    query = parse_arguments("audit", arguments)
    assert (query.registry, query.manifest, query.packages, query.name) == (registry, manifest, packages, "")


@pytest.mark.parametrize(
    ("arguments", "argument", "message"),
    [({}, "manifest", "Give either manifest"),
     ({"registry": "npm", "manifest": None, "packages": None}, "manifest", "Give either manifest"),
     ({"manifest": "react", "packages": ["react"], "registry": "npm"}, "manifest", "not both or neither"),
     ({"manifest": " \n\t"}, "manifest", "must be a manifest's text"),
     ({"manifest": ""}, "manifest", "must be a manifest's text"),
     ({"manifest": ["react"]}, "manifest", "must be a manifest's text (a string); got a list."),
     ({"manifest": "x" * 200_001}, "manifest", "at most 200,000 characters; got 200,001"),
     ({"manifest": "react", "registry": "cargo"}, "registry", "Unknown registry 'cargo'"),
     ({"packages": ["react"]}, "registry", "registry ('npm' or 'pypi') is required with packages"),
     ({"packages": ["react"], "registry": "cargo"}, "registry", "Unknown registry 'cargo'"),
     ({"packages": "react", "registry": "npm"}, "packages", "must be a list of requirement strings"),
     ({"packages": ["react", 3], "registry": "npm"}, "packages", "must be a list of requirement strings"),
     ({"packages": ["react", " "], "registry": "npm"}, "packages", "must be a list of requirement strings"),
     ({"packages": [], "registry": "npm"}, "packages", "packages is empty"),
     ({"packages": ["p"] * 501, "registry": "npm"}, "packages", "at most 500 dependencies; got 501")],
)  # fmt: skip
def test_audit_arguments_outside_the_rules_are_one_sentence(
    arguments: dict[str, object], argument: str, message: str
) -> None:
    """Neither or both of manifest and packages, an empty or oversized manifest, packages without registry,
    not strings, empty or past 500: an error sentence about the argument at fault."""
    with pytest.raises(InvalidArgument, match=re.escape(message)) as raised:
        parse_arguments("audit", arguments)
    assert raised.value.argument == argument
