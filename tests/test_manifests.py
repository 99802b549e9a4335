"""Manifest reading: package.json, requirements files as pip reads them, pyproject.toml (PEP 621, PEP 735,
Poetry) and requirement lists → complete lists of Wanted; one sentence when nothing is readable."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from poetry.core.constraints.version import Version as PoetryVersion
from poetry.core.constraints.version import parse_constraint

from mcp_registries.errors import InvalidArgument
from mcp_registries.manifests import ACCEPTED, Manifest, Wanted, read_manifest, read_packages
from mcp_registries.manifests.pip import _COMMENT, _without_extras
from mcp_registries.manifests.pyproject import poetry_specifier
from mcp_registries.operations import MAX_DEPENDENCIES

from .conftest import PROFILE

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def registry_entry(name: str, requirement: str | None, group: str, spec: str, package: str = "") -> Wanted:
    return Wanted(name, requirement, group, package or name, spec)


def unchecked(name: str, requirement: str | None, group: str, why: str) -> Wanted:
    return Wanted(name, requirement, group, None, None, why)


def unreadable(why: str) -> str:
    return f"The manifest could not be read: {why}; {ACCEPTED}."


def refused(text: str, registry: str | None = None) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        read_manifest(text, registry)  # type: ignore[arg-type]
    return caught.value


# -- package.json ---------------------------------------------------------------------------------------


def test_package_json_four_groups_in_order_a_name_once_per_group() -> None:
    text = json.dumps(
        {
            "name": "app",
            "optionalDependencies": {"fsevents": "^2.3.3"},
            "dependencies": {"react": "^18.2.0", "@scope/pkg": "1.0.0"},
            "peerDependencies": {"react": ">=17"},
            "devDependencies": {"react": "18.2.0", "typescript": "~5.6.3"},
        }
    )
    assert read_manifest(text, None) == Manifest(
        "npm",
        "package.json",
        [
            registry_entry("react", "^18.2.0", "dependencies", "^18.2.0"),
            registry_entry("@scope/pkg", "1.0.0", "dependencies", "1.0.0"),
            registry_entry("react", "18.2.0", "devDependencies", "18.2.0"),
            registry_entry("typescript", "~5.6.3", "devDependencies", "~5.6.3"),
            registry_entry("react", ">=17", "peerDependencies", ">=17"),
            registry_entry("fsevents", "^2.3.3", "optionalDependencies", "^2.3.3"),
        ],
        [],
    )


NPM_SPECS = [
    # (spec as written, package, spec to check, why unchecked); the dependency is named "dep".
    ("^4.18.2", "dep", "^4.18.2", None),
    ("*", "dep", "*", None),
    ("", "dep", "", None),
    ("latest", "dep", "latest", None),
    ("next", "dep", "next", None),
    (" >= 1.2 <2 ", "dep", ">= 1.2 <2", None),
    ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", "dep", "1.x || >=2.5.0 || 5.0.0 - 7.2.3", None),
    ("npm:react@^18", "react", "^18", None),
    ("npm:@types/node@22.8.6", "@types/node", "22.8.6", None),
    ("npm:lodash", "lodash", "", None),
    ("npm:react@beta", "react", "beta", None),
    ("git+https://github.com/u/r.git#v1", None, None, "a git dependency"),
    ("git+ssh://git@github.com:u/r.git", None, None, "a git dependency"),
    ("git://github.com/u/r.git", None, None, "a git dependency"),
    ("git@github.com:u/r.git", None, None, "a git dependency"),
    ("github:u/r", None, None, "a GitHub dependency"),
    ("gitlab:u/r", None, None, "a GitLab dependency"),
    ("u/r", None, None, "a GitHub dependency (user/repo)"),
    ("u/r#semver:^1", None, None, "a GitHub dependency (user/repo)"),
    ("https://example.com/dep-1.0.0.tgz", None, None, "a URL dependency"),
    ("file:../dep", None, None, "a local path (file:)"),
    ("../dep", None, None, "a local path"),
    ("~/dep", None, None, "a local path"),
    ("dep-1.0.0.tgz", None, None, "a local tarball"),
    ("link:../dep", None, None, "a link to a local folder (link:)"),
    ("workspace:*", None, None, "a workspace package (workspace:)"),
    ("workspace:^1.0.0", None, None, "a workspace package (workspace:)"),
    ("catalog:", None, None, "a pnpm catalog entry (catalog:)"),
    ("jsr:@std/path@^1", None, None, "not a registry requirement (jsr:)"),
]


@pytest.mark.parametrize(("written", "package", "spec", "why"), NPM_SPECS)
def test_package_json_specs_sorted_as_npm_reads_them(
    written: str, package: str | None, spec: str | None, why: str | None
) -> None:
    """Aliases are checked as their target, dist-tags are kept for the auditor, the rest is unchecked."""
    manifest = read_manifest(json.dumps({"dependencies": {"dep": written}}), "npm")
    assert manifest.wanted == [Wanted("dep", written, "dependencies", package, spec, why)]


def test_package_json_node_semver_tells_a_range_from_what_npm_refuses() -> None:
    """Neither a range node-semver reads nor a dist-tag npm would accept: unchecked with the reason."""
    text = json.dumps({"dependencies": {"a": "=>1", "b": ">=1.2.3.4", "c": "foo bar", "d": "~> 1.2"}})
    assert read_manifest(text, None).wanted == [
        unchecked(
            "a", "=>1", "dependencies", "npm cannot read it: '=>1' is not a version, range or dist-tag"
        ),
        unchecked(
            "b",
            ">=1.2.3.4",
            "dependencies",
            "npm cannot read it: '>=1.2.3.4' is not a version, range or dist-tag",
        ),
        unchecked(
            "c",
            "foo bar",
            "dependencies",
            "npm cannot read it: 'foo bar' is not a version, range or dist-tag",
        ),
        registry_entry("d", "~> 1.2", "dependencies", "~> 1.2"),
    ]


def test_package_json_odd_entries_are_unchecked_never_an_error() -> None:
    text = json.dumps(
        {
            "dependencies": {
                "ok": "1.0.0",
                "count": 5,
                "Not A Name": "^1",
                "alias": "npm:other@github:u/r",
                "bad-alias": "npm:@@@@1",
            }
        }
    )
    assert read_manifest(text, None).wanted == [
        registry_entry("ok", "1.0.0", "dependencies", "1.0.0"),
        unchecked("count", None, "dependencies", "its requirement is 5, not a string"),
        unchecked("Not A Name", "^1", "dependencies", "not a valid npm package name"),
        unchecked(
            "alias",
            "npm:other@github:u/r",
            "dependencies",
            "npm cannot read it: an alias must name a version, range or dist-tag, not a GitHub dependency",
        ),
        unchecked(
            "bad-alias",
            "npm:@@@@1",
            "dependencies",
            "npm cannot read it: the alias names '@', which is not an npm package name",
        ),
    ]


def test_package_json_notes_what_it_does_not_read() -> None:
    text = json.dumps({"name": "mono", "workspaces": ["packages/*"], "dependencies": ["react"]})
    assert read_manifest(text, None) == Manifest(
        "npm",
        "package.json",
        [],
        [
            "dependencies is a list, not an object: skipped",
            "workspaces are not read: only this package.json's own dependencies are listed",
            "this package.json declares no dependencies",
        ],
    )


def test_package_json_lock_file_and_broken_json_are_one_sentence() -> None:
    lock = refused(json.dumps({"name": "x", "lockfileVersion": 3, "packages": {}}))
    assert lock.argument == "manifest"
    assert str(lock) == unreadable("it is a package-lock.json (a lock file), not the package.json")
    assert str(refused('{"dependencies": {"a": "1",}}')) == unreadable(
        "it starts like a package.json but is not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 28 (char 27))"
    )
    assert str(refused('[["react", "^18"]]')) == unreadable(
        "it is JSON, but not an object as a package.json is"
    )
    assert str(refused('{"a": ' * 100_000)) == unreadable(
        "it starts like a package.json but is not valid JSON (nested too deeply)"
    )


# -- requirements files ---------------------------------------------------------------------------------


def test_requirements_comments_blank_lines_and_continuations_as_pip_reads_them() -> None:
    text = (
        "# a comment\n"
        "\n"
        "requests>=2.31  # trailing comment\n"
        "   # an indented comment\n"
        "numpy\\\n"
        ">=1.26 \\\n"
        "  ,<2\n"
        "pandas \\\n"
        "# a comment ends a continuation\n"
        "flask#not-a-comment\n"
        "git+https://github.com/u/r.git#egg=thing\n"
    )
    manifest = read_manifest(text, None)
    assert manifest.wanted == [
        registry_entry("requests", ">=2.31", "runtime", ">=2.31"),
        registry_entry("numpy", ">=1.26   ,<2", "runtime", "<2,>=1.26"),
        registry_entry("pandas", None, "runtime", ""),
        unchecked(
            "flask#not-a-comment",
            "flask#not-a-comment",
            "runtime",
            "pip cannot read it: Expected semicolon (after name with no version specifier) or end",
        ),
        unchecked("thing", "git+https://github.com/u/r.git#egg=thing", "runtime", "a git dependency"),
    ]
    assert manifest.notes == []


def test_requirements_pep508_extras_markers_and_names() -> None:
    """Markers are kept in the requirement and never evaluated here: a requirement for another machine
    (Windows, an old Python) is listed all the same."""
    text = (
        'Requests[socks,security] >= 2.31 , <3 ; python_version < "3.13"\n'
        'pywin32>=306; sys_platform == "win32"\n'
        'importlib-metadata; python_version < "2.7"\n'
        "zope.interface==6.*\n"
        "typing_extensions (>=4.8)\n"
        "Django===4.2\n"
    )
    assert read_manifest(text, "pypi").wanted == [
        registry_entry(
            "Requests",
            '[socks,security] >= 2.31 , <3 ; python_version < "3.13"',
            "runtime",
            "<3,>=2.31",
            "requests",
        ),
        registry_entry("pywin32", '>=306; sys_platform == "win32"', "runtime", ">=306"),
        registry_entry("importlib-metadata", '; python_version < "2.7"', "runtime", ""),
        registry_entry("zope.interface", "==6.*", "runtime", "==6.*", "zope-interface"),
        registry_entry("typing_extensions", "(>=4.8)", "runtime", ">=4.8", "typing-extensions"),
        registry_entry("Django", "===4.2", "runtime", "===4.2", "django"),
    ]


def test_requirements_options_noted_once_each_and_not_followed() -> None:
    text = (
        "-r base.txt\n"
        "--requirement=dev.txt\n"
        "-rtest.txt\n"
        "-c constraints.txt\n"
        "-i https://user:secret@private.example/simple\n"
        "--index-url https://user:secret@private.example/simple\n"
        "--extra-index=https://download.example/whl\n"
        "-f ./wheels\n"
        "--no-index\n"
        "--pre\n"
        "--only-binary :all:\n"
        "--no-binary=lxml\n"
        "--prefer-binary\n"
        "--trusted-host private.example\n"
        "--require-hashes\n"
        "--use-feature=truststore\n"
        "requests==2.31.0\n"
    )
    manifest = read_manifest(text, None)
    assert manifest.wanted == [registry_entry("requests", "==2.31.0", "runtime", "==2.31.0")]
    assert manifest.notes == [
        "-r base.txt is not followed: only this text is read",
        "-r dev.txt is not followed: only this text is read",
        "-r test.txt is not followed: only this text is read",
        "-c constraints.txt is not followed: its version limits are not applied",
        "--index-url is not applied: versions are checked on the registry this server reads",
        "--extra-index-url is not applied: versions are checked on the registry this server reads",
        "--find-links is not applied: versions are checked on the registry this server reads",
        "--no-index is not applied: versions are checked on the registry this server reads",
        "--pre is not applied: prereleases count only where a requirement names one",
        "--only-binary is not applied: versions are checked whatever files they publish",
        "--no-binary is not applied: versions are checked whatever files they publish",
        "--prefer-binary is not applied: versions are checked whatever files they publish",
    ]
    assert not any("secret" in note for note in manifest.notes)


def test_requirements_hashes_and_per_requirement_options_are_stripped() -> None:
    """pip-compile's output: hashes on continuation lines, `# via` comments between requirements."""
    text = (
        "certifi==2024.8.30 \\\n"
        "    --hash=sha256:922820b53db7a7257ffbda3f597266d435245903d80737e34f8a45ff3e3230d8 \\\n"
        "    --hash=sha256:bec941d2aa8195e248a60b31ff9f0558284cf01a52591ceda73ea9afffd69fd9\n"
        "    # via requests\n"
        "pkg==1.0 --hash sha256:abc --config-settings=x=y -C y=z --global-option=--quiet\n"
    )
    assert read_manifest(text, None).wanted == [
        registry_entry("certifi", "==2024.8.30", "runtime", "==2024.8.30"),
        registry_entry("pkg", "==1.0", "runtime", "==1.0"),
    ]


def test_requirements_editable_lines() -> None:
    text = (
        "-e .\n"
        "-e ./libs/core[extra]\n"
        "--editable=file:///src/tool\n"
        "-e git+https://github.com/u/r.git@v1#egg=rpkg\n"
        "-e hg+https://hg.example/repo#egg=hgpkg\n"
        "-e requests\n"
        "-e https://example.com/pkg-1.0.tar.gz\n"
    )
    manifest = read_manifest(text, None)
    assert manifest.wanted == [
        unchecked(".", ".", "runtime", "an editable local folder"),
        unchecked("./libs/core", "./libs/core[extra]", "runtime", "an editable local folder"),
        unchecked("file:///src/tool", "file:///src/tool", "runtime", "an editable local folder"),
        unchecked(
            "rpkg", "git+https://github.com/u/r.git@v1#egg=rpkg", "runtime", "an editable git checkout"
        ),
        unchecked(
            "hgpkg", "hg+https://hg.example/repo#egg=hgpkg", "runtime", "an editable Mercurial checkout"
        ),
        unchecked(
            "requests", "requests", "runtime", "-e takes a local folder or a version-control URL, not a name"
        ),
    ]
    assert manifest.notes == ["line 7 is skipped: -e takes a local folder or a version-control URL"]


def test_requirements_urls_paths_and_files_are_unchecked() -> None:
    wheel = (
        "https://github.com/o/r/releases/download/v1/llama_cpp_binaries-0.1+cu124-py3-none-linux_x86_64.whl"
    )
    text = (
        f'{wheel}; platform_system == "Linux"\n'
        "https://example.com/dist/foo-2.0.tar.gz#sha256=abc\n"
        "git+https://github.com/u/r@main#egg=thing\n"
        "svn+https://svn.example/repo#egg=old\n"
        'foo @ https://example.com/foo-1.0-py3-none-any.whl ; python_version > "3"\n'
        "bar[x] @ git+https://github.com/u/bar.git@v2\n"
        "file:///wheels/baz-3.0-py3-none-any.whl\n"
        "./local/pkg\n"
        "..\\windows\\pkg\n"
        ".\n"
        "../dist/foo_bar-1.0-py3-none-any.whl\n"
        "dist/qux-1.0.tar.gz\n"
        "qux-1.0.zip\n"
    )
    assert read_manifest(text, None).wanted == [
        unchecked("llama_cpp_binaries", f'{wheel}; platform_system == "Linux"', "runtime", "a direct URL"),
        unchecked("foo", "https://example.com/dist/foo-2.0.tar.gz#sha256=abc", "runtime", "a direct URL"),
        unchecked("thing", "git+https://github.com/u/r@main#egg=thing", "runtime", "a git dependency"),
        unchecked("old", "svn+https://svn.example/repo#egg=old", "runtime", "a Subversion dependency"),
        unchecked(
            "foo",
            'https://example.com/foo-1.0-py3-none-any.whl ; python_version > "3"',
            "runtime",
            "a direct URL",
        ),
        unchecked("bar", "git+https://github.com/u/bar.git@v2", "runtime", "a git dependency"),
        unchecked("baz", "file:///wheels/baz-3.0-py3-none-any.whl", "runtime", "a local file (file: URL)"),
        unchecked("./local/pkg", "./local/pkg", "runtime", "a local folder"),
        unchecked("..\\windows\\pkg", "..\\windows\\pkg", "runtime", "a local folder"),
        unchecked(".", ".", "runtime", "a local folder"),
        unchecked("foo_bar", "../dist/foo_bar-1.0-py3-none-any.whl", "runtime", "a local file"),
        unchecked("qux", "dist/qux-1.0.tar.gz", "runtime", "a local file"),
        unchecked("qux", "qux-1.0.zip", "runtime", "a local file"),
    ]


def test_requirements_lines_pip_refuses_are_unchecked_or_noted_never_an_error() -> None:
    text = (
        "requests\n"
        "flask\n"
        "numpy\n"
        "this is not a requirement\n"
        "scipy\n"
        "pandas\n"
        "pkg==${PKG_VERSION}\n"
        "pkg==1.0 --no-such-option\n"
        "--no-such-option\n"
        "-r\n"
        "--pre=yes\n"
        "-e 'unclosed\n"
    )
    manifest = read_manifest(text, None)
    assert manifest.wanted == [
        registry_entry("requests", None, "runtime", ""),
        registry_entry("flask", None, "runtime", ""),
        registry_entry("numpy", None, "runtime", ""),
        unchecked(
            "this is not a requirement",
            "this is not a requirement",
            "runtime",
            "pip cannot read it: Expected semicolon (after name with no version specifier) or end",
        ),
        registry_entry("scipy", None, "runtime", ""),
        registry_entry("pandas", None, "runtime", ""),
        unchecked(
            "pkg==${PKG_VERSION}",
            "pkg==${PKG_VERSION}",
            "runtime",
            "it uses ${PKG_VERSION}, which pip takes from where it runs",
        ),
        unchecked(
            "pkg==1.0 --no-such-option",
            "pkg==1.0 --no-such-option",
            "runtime",
            "pip cannot read it: pip knows no option '--no-such-option'",
        ),
    ]
    assert manifest.notes == [
        "line 9 is skipped: pip knows no option '--no-such-option'",
        "line 10 is skipped: --requirement needs a value",
        "line 11 is skipped: --pre takes no value",
        "line 12 is skipped: its options cannot be split (No closing quotation)",
    ]


def test_requirements_need_at_least_half_their_lines_readable() -> None:
    """Prose, YAML and the like are not requirements files, even when a word or two reads as a name."""
    assert str(refused("Installation\nRun the server with the command below\nthen open it in a browser")) == (
        unreadable(
            "line 2 ('Run the server with the command below') is not one pip reads: "
            "Expected semicolon (after name with no version specifier) or end"
        )
    )
    assert str(refused("name: env\ndependencies:\n  - numpy=1.26\n  - pip\n")) == unreadable(
        "line 1 ('name: env') is not one pip reads: "
        "Expected semicolon (after name with no version specifier) or end"
    )
    assert [w.name for w in read_manifest("requests\nnot a requirement\n", None).wanted] == [
        "requests",
        "not a requirement",
    ]


# -- pyproject.toml -------------------------------------------------------------------------------------


def test_pyproject_pep621_dependencies_extras_and_groups() -> None:
    """PEP 621 and PEP 735 tables, and uv's dev-dependencies (a list of PEP 508 strings, group dev)."""
    text = """
[project]
name = "My_App"
dependencies = [
    "httpx[http2]>=0.27",
    "tomli>=2; python_version < '3.11'",
    "private @ git+https://github.com/o/private.git@v1",
    "not a requirement",
    42,
]
[project.optional-dependencies]
test = ["pytest>=8", "my-app[docs]"]
docs = ["mkdocs"]

[dependency-groups]
lint = ["ruff==0.7.*"]
dev = [{include-group = "lint"}, "ipython", {include-group = "test-extra"}]

[tool.uv]
dev-dependencies = ["pytest-cov>=5"]
"""
    assert read_manifest(text, None) == Manifest(
        "pypi",
        "pyproject",
        [
            registry_entry("httpx", "[http2]>=0.27", "runtime", ">=0.27"),
            registry_entry("tomli", ">=2; python_version < '3.11'", "runtime", ">=2"),
            unchecked("private", "git+https://github.com/o/private.git@v1", "runtime", "a git dependency"),
            unchecked(
                "not a requirement",
                "not a requirement",
                "runtime",
                "not a PEP 508 requirement: Expected semicolon (after name with no version specifier) or end",
            ),
            unchecked("42", None, "runtime", "not a requirement string"),
            registry_entry("pytest", ">=8", "test", ">=8"),
            unchecked("my-app", "[docs]", "test", "this project itself (its extras are listed)"),
            registry_entry("mkdocs", None, "docs", ""),
            registry_entry("ruff", "==0.7.*", "lint", "==0.7.*"),
            registry_entry("ipython", None, "dev", ""),
            registry_entry("pytest-cov", ">=5", "dev", ">=5"),
        ],
        ["dependency groups listed once, under their own names (dev includes lint, test-extra)"],
    )


def test_pyproject_poetry_tables_become_pep440() -> None:
    text = """
[tool.poetry]
name = "app"
[tool.poetry.dependencies]
python = "^3.9"
requests = "^2.31"
Django = {version = "~4.2", extras = ["bcrypt"]}
numpy = [
    {version = "<1.25", python = "<3.9"},
    {version = "^1.26", python = ">=3.9"},
]
tomli = {version = ">=2.0.1", python = "<3.11", markers = "sys_platform != 'win32'"}
anything = "*"
pinned = "1.2.3"
wild = "1.2.*"
either = "^1.0 || ^2.0"
bad_version = "^banana"
cleo = {git = "https://github.com/python-poetry/cleo.git", branch = "main"}
local = {path = "../local", develop = true}
archive = {url = "https://example.com/archive-1.0.tar.gz"}
only_source = {source = "private"}
"not a name" = "1.0"
[tool.poetry.dev-dependencies]
black = "24.4.2"
[tool.poetry.group.test.dependencies]
pytest = ">=8.0,<9"
pytest-xdist = {version = ">=3.1", extras = ["psutil"]}
[tool.poetry.group.docs]
optional = true
[tool.poetry.group.docs.dependencies]
mkdocs = "~1"
"""
    assert read_manifest(text, "pypi") == Manifest(
        "pypi",
        "pyproject",
        [
            registry_entry("requests", "^2.31", "runtime", ">=2.31,<3.0"),
            registry_entry("Django", "~4.2", "runtime", ">=4.2,<4.3", "django"),
            registry_entry("numpy", "<1.25", "runtime", "<1.25"),
            registry_entry("numpy", "^1.26", "runtime", ">=1.26,<2.0"),
            registry_entry("tomli", ">=2.0.1", "runtime", ">=2.0.1"),
            registry_entry("anything", "*", "runtime", ""),
            registry_entry("pinned", "1.2.3", "runtime", "==1.2.3"),
            registry_entry("wild", "1.2.*", "runtime", "==1.2.*"),
            unchecked(
                "either",
                "^1.0 || ^2.0",
                "runtime",
                "an either-or constraint (||), which no PEP 440 specifier set can say",
            ),
            unchecked("bad_version", "^banana", "runtime", "'banana' is not a version"),
            unchecked("cleo", "https://github.com/python-poetry/cleo.git", "runtime", "a git dependency"),
            unchecked("local", "../local", "runtime", "a local path"),
            unchecked("archive", "https://example.com/archive-1.0.tar.gz", "runtime", "a direct URL"),
            registry_entry("only_source", None, "runtime", "", "only-source"),
            unchecked("not a name", "1.0", "runtime", "not a valid PyPI project name"),
            registry_entry("black", "24.4.2", "dev", "==24.4.2"),
            registry_entry("pytest", ">=8.0,<9", "test", ">=8.0,<9"),
            registry_entry("pytest-xdist", ">=3.1", "test", ">=3.1"),
            registry_entry("mkdocs", "~1", "docs", ">=1,<2"),
        ],
        [],
    )


def test_pyproject_poetry_optional_dependencies_listed_under_their_extras() -> None:
    text = """
[tool.poetry.dependencies]
python = ">=3.9"
rich = ">=13"
tree-sitter = {version = ">=0.25", optional = true}
Tree_Sitter_Python = {version = ">=0.23", optional = true}
orphan = {version = "^1", optional = true}
[tool.poetry.extras]
syntax = ["tree-sitter", "tree-sitter-python"]
all = ["tree-sitter"]
"""
    assert read_manifest(text, None).wanted == [
        registry_entry("rich", ">=13", "runtime", ">=13"),
        registry_entry("tree-sitter", ">=0.25", "syntax", ">=0.25"),
        registry_entry("tree-sitter", ">=0.25", "all", ">=0.25"),
        registry_entry("Tree_Sitter_Python", ">=0.23", "syntax", ">=0.23", "tree-sitter-python"),
        registry_entry("orphan", "^1", "runtime", ">=1,<2"),
    ]


def test_pyproject_poetry2_project_dependencies_win_over_tool_poetry() -> None:
    """Poetry 2 reads [tool.poetry.dependencies] only to enrich [project] dependencies for locking."""
    text = """
[project]
name = "app"
dependencies = ["requests>=2.13.0"]
[tool.poetry.dependencies]
requests = {source = "private-source"}
[tool.poetry.group.dev.dependencies]
pytest = "^8"
"""
    manifest = read_manifest(text, None)
    assert manifest.wanted == [
        registry_entry("requests", ">=2.13.0", "runtime", ">=2.13.0"),
        registry_entry("pytest", "^8", "dev", ">=8,<9"),
    ]
    assert manifest.notes == [
        "[tool.poetry.dependencies] only adds details to [project] dependencies: not listed again"
    ]


def test_pyproject_dynamic_dependencies_and_empty_ones_are_noted() -> None:
    dynamic = read_manifest('[project]\nname = "x"\ndynamic = ["dependencies", "version"]\n', None)
    assert dynamic == Manifest(
        "pypi",
        "pyproject",
        [],
        [
            "[project] dependencies are dynamic (the build backend adds them): none are listed",
            "this pyproject.toml declares no dependencies",
        ],
    )
    poetry_dynamic = read_manifest(
        '[project]\nname = "x"\ndynamic = ["dependencies"]\n[tool.poetry.dependencies]\nrequests = "^2"\n',
        None,
    )
    assert poetry_dynamic.wanted == [registry_entry("requests", "^2", "runtime", ">=2,<3")]
    assert poetry_dynamic.notes == []


POETRY_CONSTRAINTS = [
    ("^1.2.3", ">=1.2.3,<2.0.0"),
    ("^1.2", ">=1.2,<2.0"),
    ("^1", ">=1,<2"),
    ("^0.2.3", ">=0.2.3,<0.3.0"),
    ("^0.0.3", ">=0.0.3,<0.0.4"),
    ("^0.0", ">=0.0,<0.1"),
    ("^0", ">=0,<1"),
    ("~1.2.3", ">=1.2.3,<1.3.0"),
    ("~1.2", ">=1.2,<1.3"),
    ("~1", ">=1,<2"),
    ("~=1.2", "~=1.2"),
    (">=1,<2", ">=1,<2"),
    (">= 1.2, < 1.5", ">=1.2,<1.5"),
    (">=1.2 <2", ">=1.2,<2"),
    ("*", ""),
    ("", ""),
    ("1.2.*", "==1.2.*"),
    ("!=1.2.*", "!=1.2.*"),
    ("1.2.3", "==1.2.3"),
    ("=1.2.3", "==1.2.3"),
    ("v1.2", "==1.2"),
    ("^1.0.0-beta.1", ">=1.0.0b1,<2.0.0"),
    (">=1.2.*", ">=1.2"),
]


@pytest.mark.parametrize(("constraint", "specifier"), POETRY_CONSTRAINTS)
def test_poetry_specifier_caret_tilde_and_wildcards(constraint: str, specifier: str) -> None:
    assert poetry_specifier(constraint) == specifier


def test_poetry_specifier_admits_what_poetry_admits() -> None:
    """Every operator over a grid of release versions, judged by poetry-core's own parser."""
    versions = sorted(
        {
            ".".join(map(str, parts))
            for size in (1, 2, 3)
            for parts in itertools.product(range(3), repeat=size)
        },
        key=Version,
    )
    operators = ["^", "~", "~=", "==", "!=", ">=", "<=", ">", "<", "=", ""]
    compared = 0
    for operator, version, wildcard in itertools.product(operators, versions, ("", ".*")):
        constraint = f"{operator}{version}{wildcard}"
        try:
            theirs = parse_constraint(constraint)
        except ValueError:
            continue
        ours = SpecifierSet(poetry_specifier(constraint))
        for candidate in versions:
            assert ours.contains(candidate) == theirs.allows(PoetryVersion.parse(candidate)), (
                constraint,
                candidate,
            )
        compared += 1
    assert compared > 400


# -- detection, registry, limits ------------------------------------------------------------------------


def test_manifest_kinds_detected_and_the_registry_must_fit() -> None:
    assert read_manifest('{"dependencies": {"a": "1"}}', None).source == "package.json"
    assert read_manifest("\ufeff" + '{"dependencies": {"a": "1"}}', "npm").registry == "npm"
    assert read_manifest('[project]\ndependencies = ["a"]\n', "pypi").source == "pyproject"
    assert read_manifest('[dependency-groups]\ndev = ["a"]\n', None).source == "pyproject"
    assert read_manifest("[tool.poetry]\n", None).source == "pyproject"
    assert read_manifest("a\n", None).source == "requirements"
    wrong = refused("requests>=2\n", "npm")
    assert wrong.argument == "registry"
    assert str(wrong) == (
        "The manifest is a requirements file, which lists PyPI packages, but registry is npm: "
        "leave registry out or give pypi."
    )
    assert str(refused('{"dependencies": {}}', "pypi")) == (
        "The manifest is a package.json, which lists npm packages, but registry is pypi: "
        "leave registry out or give npm."
    )
    assert str(refused('[project]\nname = "x"\n', "npm")) == (
        "The manifest is a pyproject.toml, which lists PyPI packages, but registry is npm: "
        "leave registry out or give pypi."
    )


def test_manifest_nothing_readable_is_one_sentence_naming_the_formats() -> None:
    cases = {
        "": "it holds only blank lines and comments",
        "# just\n\n  # comments\n": "it holds only blank lines and comments",
        "[tool.black]\nline-length = 100\n": "it is TOML with no [project], [tool.poetry] or [dependency-groups] table",
        "[project\nname = 1\n": "it looks like a pyproject.toml but is not valid TOML "
        "(Expected ']' at the end of a table declaration (at line 1, column 9))",
        '"requests"': "it is JSON, but not an object as a package.json is",
        "- numpy\n- pandas\n": "line 1 ('- numpy') is not one pip reads: it holds no option pip knows",
    }
    for text, why in cases.items():
        error = refused(text)
        assert error.argument == "manifest"
        assert str(error) == unreadable(why)
        assert str(error).count(". ") == 0 and str(error).endswith(".")


def test_manifest_lone_surrogates_read_as_question_marks() -> None:
    """JSON carries lone surrogates, which no name or UTF-8 answer can: they read as '?'."""
    manifest = read_manifest("requests\nnum\ud800py\n", None)
    assert manifest.wanted[0] == registry_entry("requests", None, "runtime", "")
    assert manifest.wanted[1].package is None and manifest.wanted[1].name == "num?py"


def test_package_json_escaped_lone_surrogates_read_as_question_marks() -> None:
    """A package.json can also spell a lone surrogate as an escape ('\\ud800'), which json decodes into its
    names and requirements: those read as '?' too (they made the audit an internal error)."""
    manifest = read_manifest(
        '{"dependencies": {"\\ud800": "^1", "react": "\\udc00", "ms": "npm:\\ud800@1"}}', None
    )
    assert [(w.name, w.requirement) for w in manifest.wanted] == [
        ("?", "^1"),
        ("react", "?"),
        ("ms", "npm:?@1"),
    ]
    assert all(w.package is None for w in manifest.wanted)
    # A pair of escapes is one character, as JSON means it.
    manifest = read_manifest('{"dependencies": {"\\ud83d\\ude00": "^1"}}', None)
    assert manifest.wanted[0].name == "\U0001f600"


def test_manifest_at_most_500_dependencies() -> None:
    at_limit = json.dumps({"dependencies": {f"p{i}": "^1" for i in range(MAX_DEPENDENCIES)}})
    assert len(read_manifest(at_limit, None).wanted) == MAX_DEPENDENCIES
    over = "\n".join(f"p{i}" for i in range(MAX_DEPENDENCIES + 1))
    error = refused(over)
    assert error.argument == "manifest"
    assert str(error) == "An audit checks at most 500 dependencies; the manifest lists 501."
    # The limit counts entries: one name in two groups is two.
    twice = json.dumps(
        {group: {f"p{i}": "1" for i in range(260)} for group in ("dependencies", "devDependencies")}
    )
    assert str(refused(twice)) == "An audit checks at most 500 dependencies; the manifest lists 520."
    with pytest.raises(
        InvalidArgument, match=r"^An audit checks at most 500 dependencies; packages has 501\.$"
    ):
        read_packages(tuple(f"p{i}" for i in range(MAX_DEPENDENCIES + 1)), "pypi")


#: pip's own patterns (pip/_internal/req/req_file.py COMMENT_RE, req_install's _strip_extras), which backtrack
#: quadratically on long runs of whitespace or brackets.
PIP_COMMENT = re.compile(r"(^|\s+)#.*$")
PIP_EXTRAS = re.compile(r"^(.+)(\[[^\]]+\])$")


def test_pip_comments_and_extras_read_as_pips_patterns_read_them() -> None:
    """Every string of up to seven of the characters that matter has its comment cut and its extras split
    exactly as pip's patterns do."""
    for size in range(8):
        for chars in itertools.product("a[] #\t\n", repeat=size):
            text = "".join(chars)
            assert _COMMENT.sub("", text) == PIP_COMMENT.sub("", text), text
            assert bool(_COMMENT.match(text)) == bool(PIP_COMMENT.match(text)), text
            extras = PIP_EXTRAS.match(text)
            assert _without_extras(text) == (extras.group(1) if extras else text), text


@pytest.mark.parametrize(
    "run", [" ", "\t", "[", "a[", " #"], ids=["spaces", "tabs", "brackets", "extras", "comments"]
)
def test_requirements_long_runs_read_in_linear_time(run: str) -> None:
    """A 200,000-character line of spaces or brackets is read in well under a second (pip's patterns took
    minutes, with the server's event loop blocked)."""
    line = (run * 200_000)[:199_999] + "x"
    started = time.monotonic()
    with contextlib.suppress(InvalidArgument):
        read_manifest(line, None)
    with contextlib.suppress(InvalidArgument):
        read_packages((line,), "pypi")
    assert time.monotonic() - started < 2


# -- requirement lists ----------------------------------------------------------------------------------


def test_read_packages_npm_forms() -> None:
    items = (
        "react",
        "react@^18.2.0",
        "@types/node",
        "@types/node@22.8.6",
        "my-react@npm:react@^18",
        "next@canary",
        "lib@github:u/lib",
        " express@~4.18 ",
    )
    assert read_packages(items, "npm") == Manifest(
        "npm",
        "list",
        [
            registry_entry("react", None, "list", ""),
            registry_entry("react", "^18.2.0", "list", "^18.2.0"),
            registry_entry("@types/node", None, "list", ""),
            registry_entry("@types/node", "22.8.6", "list", "22.8.6"),
            registry_entry("my-react", "npm:react@^18", "list", "^18", "react"),
            registry_entry("next", "canary", "list", "canary"),
            unchecked("lib", "github:u/lib", "list", "a GitHub dependency"),
            registry_entry("express", "~4.18", "list", "~4.18"),
        ],
        [],
    )


@pytest.mark.parametrize(
    ("items", "first", "why"),
    [
        (("react", "react dom"), 2, "'react dom' is not an npm package name"),
        (("react@not a range",), 1, "'not a range' is not a version, range or dist-tag"),
        (("https://example.com/x.tgz",), 1, "'https://example.com/x.tgz' is not an npm package name"),
        (("@",), 1, "'@' is not an npm package name"),
    ],
)
def test_read_packages_npm_names_the_first_unreadable(items: tuple[str, ...], first: int, why: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        read_packages(items, "npm")
    assert caught.value.argument == "packages"
    assert str(caught.value) == (
        f"packages item {first}, {items[first - 1]!r}, is not an npm requirement ({why}): "
        "use 'name', 'name@range' (e.g. 'express@^4.18') or 'alias@npm:name@range'."
    )


def test_read_packages_pypi_reads_each_as_a_requirements_line() -> None:
    items = (
        "requests>=2.31",
        "uvicorn[standard]",
        'pywin32; sys_platform == "win32"',
        "pkg==1.0 --hash=sha256:abc  # pinned",
        "-e git+https://github.com/u/r.git#egg=rpkg",
        "thing @ https://example.com/thing-1.0.tar.gz",
    )
    assert read_packages(items, "pypi") == Manifest(
        "pypi",
        "list",
        [
            registry_entry("requests", ">=2.31", "list", ">=2.31"),
            registry_entry("uvicorn", "[standard]", "list", ""),
            registry_entry("pywin32", '; sys_platform == "win32"', "list", ""),
            registry_entry("pkg", "==1.0", "list", "==1.0"),
            unchecked("rpkg", "git+https://github.com/u/r.git#egg=rpkg", "list", "an editable git checkout"),
            unchecked("thing", "https://example.com/thing-1.0.tar.gz", "list", "a direct URL"),
        ],
        [],
    )


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("requests >= banana", "Expected semicolon (after name with no version specifier) or end"),
        ("-r base.txt", "it is a pip option, not a requirement"),
        ("# nothing", "it holds no requirement"),
        ("a\nb", "it holds more than one line"),
    ],
)
def test_read_packages_pypi_names_the_first_unreadable(item: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        read_packages(("flask", item), "pypi")
    assert str(caught.value) == (
        f"packages item 2, {item!r}, is not a PEP 508 requirement ({why}): "
        "use e.g. 'requests>=2.31' or 'uvicorn[standard]'."
    )


# -- recorded real manifests: counts per group, counted here without the reader ---------------------------


def test_recorded_web_app_package_json() -> None:
    text = (MANIFESTS / "ai-chatbot.package.json").read_text(encoding="utf-8")
    declared = json.loads(text)
    manifest = read_manifest(text, None)
    assert (manifest.registry, manifest.source, manifest.notes) == ("npm", "package.json", [])
    assert Counter(w.group for w in manifest.wanted) == {
        group: len(declared[group]) for group in ("dependencies", "devDependencies")
    }
    assert Counter(w.group for w in manifest.wanted) == {"dependencies": 52, "devDependencies": 17}
    expected = [
        registry_entry(name, spec, group, spec.strip())
        for group in ("dependencies", "devDependencies")
        for name, spec in declared[group].items()
    ]
    assert manifest.wanted == expected


def test_recorded_data_science_requirements() -> None:
    text = (MANIFESTS / "text-generation-webui.requirements.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    urls = [line for line in lines if line.startswith("https://")]
    manifest = read_manifest(text, None)
    assert (manifest.registry, manifest.source, manifest.notes) == ("pypi", "requirements", [])
    assert (len(lines), len(urls)) == (47, 10)
    assert len(manifest.wanted) == len(lines)
    assert [w.requirement for w in manifest.wanted if w.unchecked] == urls
    assert {w.unchecked for w in manifest.wanted if w.unchecked} == {"a direct URL"}
    checked = [w for w in manifest.wanted if not w.unchecked]
    assert [w.name for w in checked] == [
        line.split(";")[0].split("=")[0].split("<")[0].split(">")[0] for line in lines if line not in urls
    ]
    # Markers stay in the requirement, whatever this machine is.
    assert (
        sum(";" in (w.requirement or "") for w in manifest.wanted) == sum(";" in line for line in lines) == 10
    )
    assert checked[1] == registry_entry("audioop-lts", '<1.0; python_version >= "3.13"', "runtime", "<1.0")
    assert [w.name for w in manifest.wanted if w.unchecked][:2] == ["gradio", "gradio_client"]


def test_recorded_poetry_pyproject_with_groups() -> None:
    text = (MANIFESTS / "poetry.pyproject.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    runtime = doc["project"]["dependencies"]
    groups = {name: len(group["dependencies"]) for name, group in doc["tool"]["poetry"]["group"].items()}
    manifest = read_manifest(text, "pypi")
    assert (manifest.source, manifest.notes) == ("pyproject", [])
    assert Counter(w.group for w in manifest.wanted) == {"runtime": len(runtime), **groups}
    assert Counter(w.group for w in manifest.wanted) == {
        "runtime": 22,
        "dev": 1,
        "test": 10,
        "typing": 2,
        "github-actions": 1,
    }
    assert [w.name for w in manifest.wanted if w.unchecked] == [
        r.split(" @ ")[0] for r in runtime if " @ " in r
    ]
    assert manifest.wanted[:3] == [
        unchecked(
            "poetry-core",
            "git+https://github.com/python-poetry/poetry-core.git",
            "runtime",
            "a git dependency",
        ),
        registry_entry("build", "(>=1.2.1,<2.0.0)", "runtime", "<2.0.0,>=1.2.1"),
        registry_entry("cachecontrol", "[filecache] (>=0.14.0,<0.15.0)", "runtime", "<0.15.0,>=0.14.0"),
    ]
    assert manifest.wanted[-1] == registry_entry(
        "pytest-github-actions-annotate-failures", "^0.1.7", "github-actions", ">=0.1.7,<0.2.0"
    )


def test_recorded_classic_poetry_pyproject_with_extras() -> None:
    text = (MANIFESTS / "textual.pyproject.toml").read_text(encoding="utf-8")
    poetry = tomllib.loads(text)["tool"]["poetry"]
    runtime = [n for n, v in poetry["dependencies"].items() if n != "python" and not isinstance(v, dict)]
    runtime += [n for n, v in poetry["dependencies"].items() if isinstance(v, dict) and not v.get("optional")]
    manifest = read_manifest(text, None)
    assert (manifest.source, manifest.notes) == ("pyproject", [])
    assert Counter(w.group for w in manifest.wanted) == {
        "runtime": len(runtime),
        "syntax": len(poetry["extras"]["syntax"]),
        "dev": len(poetry["group"]["dev"]["dependencies"]),
    }
    assert Counter(w.group for w in manifest.wanted) == {"runtime": 6, "syntax": 16, "dev": 20}
    assert all(w.package and not w.unchecked for w in manifest.wanted)
    by_name = {(w.name, w.group): w for w in manifest.wanted}
    assert by_name["typing-extensions", "runtime"].spec == ">=4.4.0,<5.0.0"
    assert by_name["mdit-py-plugins", "runtime"] == registry_entry("mdit-py-plugins", "*", "runtime", "")
    assert by_name["tree-sitter", "syntax"] == registry_entry("tree-sitter", ">=0.25.0", "syntax", ">=0.25.0")
    assert by_name["types-setuptools", "dev"].spec == ">=67.2.0.1,<68.0.0.0"


# -- any text: an answer or one sentence ------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "requests>=2",
        "-r x.txt",
        "-e .",
        "--hash=sha256:a",
        "# c",
        "\\",
        "[project]",
        "[tool.poetry.dependencies]",
        'dependencies = ["a"]',
        "a = 1",
        '{"dependencies": {"a": "^1"}}',
        "{",
        "git+https://x/y.git#egg=y",
        "./p",
        "x.whl",
        "; python_version < '3'",
        "${V}",
        "npm:a@1",
        '"',
        "'",
        "\ud800",
        "\ufeff",
        "~=1",
        "^1 || ^2",
    ]
)
_MANIFESTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=20)), max_size=12).map("\n".join),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=12).map(" ".join),
    st.dictionaries(
        st.sampled_from(["dependencies", "devDependencies", "peerDependencies", "optionalDependencies", "x"]),
        st.one_of(
            st.dictionaries(st.text(max_size=12), st.one_of(st.text(max_size=20), st.integers(), st.none())),
            st.lists(st.text(max_size=5), max_size=3),
        ),
    ).map(json.dumps),
)


def _assert_well_formed(manifest: Manifest) -> None:
    assert len(manifest.wanted) <= MAX_DEPENDENCIES
    for wanted in manifest.wanted:
        # A registry entry has what to look up and what to check it against; an unchecked one says why.
        assert (wanted.package is None) == (wanted.spec is None) == (wanted.unchecked is not None)
        for text in (wanted.name, wanted.requirement, wanted.package, wanted.spec, wanted.unchecked):
            if text is not None:
                text.encode("utf-8")
    for note in manifest.notes:
        note.encode("utf-8")


@settings(PROFILE, max_examples=PROFILE.max_examples * 5)
@given(text=_MANIFESTS, registry=st.sampled_from([None, "npm", "pypi"]))
@example(text="\\", registry=None)
@example(text="-e", registry=None)
@example(text="-e \\\n", registry=None)
@example(text="[dependency-groups]\na = [{include-group = 1}, [], {}]", registry=None)
@example(text='[tool.poetry]\ngroup = {a = 1, b = {dependencies = []}}\nextras = {x = "y"}', registry=None)
@example(text='[project]\ndependencies = "a"\noptional-dependencies = {x = 1}', registry=None)
@example(text="a; " + "(" * 300 + "python_version > '3'" + ")" * 300, registry=None)
@example(text="a==" + "1" * 5000, registry=None)
@example(text='{"dependencies": {"\\ud800": "\\udfff"}}', registry=None)
def test_read_manifest_any_text_is_an_answer_or_one_sentence(text: str, registry: str | None) -> None:
    """Whatever the text: a well-formed manifest, or InvalidArgument with one sentence; never another error."""
    try:
        manifest = read_manifest(text, registry)  # type: ignore[arg-type]
    except InvalidArgument as error:
        assert error.argument in {"manifest", "registry"}
        assert str(error).endswith(".") and "\n" not in str(error)
        return
    _assert_well_formed(manifest)


@settings(PROFILE, max_examples=PROFILE.max_examples * 3)
@given(
    items=st.lists(st.one_of(_FRAGMENTS, st.text(max_size=30)), min_size=1, max_size=5).map(tuple),
    registry=st.sampled_from(["npm", "pypi"]),
)
def test_read_packages_any_items_are_an_answer_or_one_sentence(items: tuple[str, ...], registry: str) -> None:
    try:
        manifest = read_packages(items, registry)  # type: ignore[arg-type]
    except InvalidArgument as error:
        assert error.argument == "packages" and "\n" not in str(error)
        return
    assert len(manifest.wanted) == len(items)
    _assert_well_formed(manifest)
