"""PyPI: requirements files as pip reads them, PEP 508 strings, and requirement strings of a list."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from ..errors import shown
from .base import LIST, RUNTIME, Manifest, Refused, Wanted, cut, note, reason, unchecked

# As pip/_internal/req/req_file.py: lines joined at a trailing backslash, comments cut, each line split into
# a requirement and options at the first token that starts with '-', options read by optparse.

# pip's comment pattern, `(^|\s+)#.*$`, tried from the start of a whitespace run only: the same matches in
# linear time (pip's backtracks quadratically: minutes for a 200,000-character line of spaces).
_COMMENT = re.compile(r"(^|(?<!\s)\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
#: pip's archive extensions (pip/_internal/utils/filetypes.py).
_ARCHIVES: tuple[str, ...] = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz")
_ARCHIVES += (".tar.lzma", ".tar.gz", ".tgz", ".tar")
_VCS = {"git": "git", "hg": "Mercurial", "svn": "Subversion", "bzr": "Bazaar"}

#: The options pip accepts in a requirements file (req_file.py SUPPORTED_OPTIONS and SUPPORTED_OPTIONS_REQ):
#: each spelling → its long name, and whether it takes a value.
_OPTIONS: dict[str, tuple[str, bool]] = {
    "-i": ("--index-url", True),
    "--index-url": ("--index-url", True),
    "--pypi-url": ("--index-url", True),
    "--extra-index-url": ("--extra-index-url", True),
    "--no-index": ("--no-index", False),
    "-c": ("--constraint", True),
    "--constraint": ("--constraint", True),
    "-r": ("--requirement", True),
    "--requirement": ("--requirement", True),
    "-e": ("--editable", True),
    "--editable": ("--editable", True),
    "-f": ("--find-links", True),
    "--find-links": ("--find-links", True),
    "--no-binary": ("--no-binary", True),
    "--only-binary": ("--only-binary", True),
    "--prefer-binary": ("--prefer-binary", False),
    "--require-hashes": ("--require-hashes", False),
    "--pre": ("--pre", False),
    "--trusted-host": ("--trusted-host", True),
    "--use-feature": ("--use-feature", True),
    "--hash": ("--hash", True),
    "--global-option": ("--global-option", True),
    "-C": ("--config-settings", True),
    "--config-settings": ("--config-settings", True),
}
_SOURCES = "is not applied: versions are checked on the registry this server reads"
#: What an option that changes what pip would install leaves unapplied; options not here change nothing
#: that an audit sees (hashes, trusted hosts, build settings).
_OPTION_NOTES = {
    "--requirement": "-r {} is not followed: only this text is read",
    "--constraint": "-c {} is not followed: its version limits are not applied",
    "--index-url": "--index-url " + _SOURCES,
    "--extra-index-url": "--extra-index-url " + _SOURCES,
    "--no-index": "--no-index " + _SOURCES,
    "--find-links": "--find-links " + _SOURCES,
    "--pre": "--pre is not applied: prereleases count only where a requirement names one",
    "--no-binary": "--no-binary is not applied: versions are checked whatever files they publish",
    "--only-binary": "--only-binary is not applied: versions are checked whatever files they publish",
    "--prefer-binary": "--prefer-binary is not applied: versions are checked whatever files they publish",
}


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each meaningful line: continuations joined, comments cut (pip's
    join_lines and ignore_comments)."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        comment = _COMMENT.match(line) is not None
        if line.endswith("\\") and not comment:
            first = first if pending else number
            pending.append(line.strip("\\"))
            continue
        if pending:
            # A comment line ends a continuation; pip adds a space so that the comment is still cut.
            pending.append(" " + line if comment else line)
            line, number, pending = "".join(pending), first, []
        line = _COMMENT.sub("", line).strip()
        if line:
            yield number, line
    if pending and (line := _COMMENT.sub("", "".join(pending)).strip()):
        yield first, line


def read(text: str) -> tuple[Manifest, int, list[str]]:
    """The requirements file read from `text`, how many lines were read, and why each other one was not."""
    wanted: list[Wanted] = []
    notes: list[str] = []
    count, refusals = 0, []
    for number, line in logical_lines(text):
        try:
            _read_line(line, RUNTIME, wanted, notes)
            count += 1
        except Refused as refused:
            refusals.append(f"line {number} ({shown(line)}) is not one pip reads: {refused}")
            if _split_options(line)[0]:
                wanted.append(unchecked(cut(line), cut(line), RUNTIME, f"pip cannot read it: {refused}"))
            else:
                note(notes, f"line {number} is skipped: {refused}")
    return Manifest("pypi", "requirements", wanted, notes), count, refusals


def _split_options(line: str) -> tuple[str, str]:
    """The requirement and the options of a line (pip's break_args_options)."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]).strip(), " ".join(tokens[index:])
    return line, ""


def _read_line(line: str, group: str, wanted: list[Wanted], notes: list[str]) -> None:
    args, options = _split_options(line)
    try:
        tokens = shlex.split(options)
    except ValueError as error:
        raise Refused(f"its options cannot be split ({error})") from None
    found = _options(tokens)
    if args:
        wanted.append(_requirement(args, group))
        return
    if not found:
        raise Refused("it holds no option pip knows")
    for option, value in found:
        if option == "--editable":
            wanted.append(_editable(value, group))
        elif option in _OPTION_NOTES:
            note(notes, _OPTION_NOTES[option].format(cut(value)))


def _options(tokens: list[str]) -> list[tuple[str, str]]:
    """(long name, value) of each option, as optparse reads them; Refused for one pip does not know."""
    found: list[tuple[str, str]] = []
    rest = iter(tokens)
    for token in rest:
        if token.startswith("--"):
            spelling, equals, value = token.partition("=")
            matches = [known for known in _OPTIONS if known.startswith(spelling) and known[1] == "-"]
            # optparse takes an exact name, or a prefix of only one.
            spelling = spelling if spelling in _OPTIONS else matches[0] if len(matches) == 1 else ""
            if not spelling:
                raise Refused(f"pip knows no option {shown(token.partition('=')[0])}")
        elif token.startswith("-") and len(token) > 1:
            spelling, equals, value = token[:2], "", token[2:]
            if spelling not in _OPTIONS:
                raise Refused(f"pip knows no option {shown(spelling)}")
        else:
            continue  # optparse leaves other words aside, and pip ignores them
        name, takes_value = _OPTIONS[spelling]
        if takes_value and not value and not equals:
            value = next(rest, "")
            if not value:
                raise Refused(f"{name} needs a value")
        elif not takes_value and (value or equals):
            raise Refused(f"{name} takes no value")
        found.append((name, value))
    return found


def _requirement(text: str, group: str) -> Wanted:
    """One requirement of a requirements file: a URL, a local file or folder, or PEP 508 (pip's
    parse_req_from_line); Refused when pip cannot read it."""
    url = _is_url(text)
    # pip: a URL's marker must follow '; ' (a URL may hold ';'), anything else's may follow ';' alone.
    target = text.split("; " if url else ";", 1)[0].strip()
    if url:
        return unchecked(_url_name(target), text, group, _url_reason(target))
    path = _without_extras(target)
    before_at = text.split("@", 1)[0]
    if path.lower().endswith(_ARCHIVES) and ("@" not in text or _looks_like_path(before_at)):
        return unchecked(_file_name(path) or cut(path), text, group, "a local file")
    try:
        return pep508(text, group)
    except Refused:
        if _looks_like_path(path):
            return unchecked(cut(path), text, group, "a local folder")
        if variable := _ENV_VAR.search(text):
            return unchecked(
                cut(text),
                cut(text),
                group,
                f"it uses ${{{variable[1]}}}, which pip takes from where it runs",
            )
        raise


def _without_extras(text: str) -> str:
    """`text` without the extras that end it, as pip's _strip_extras reads them with `^(.+)(\\[[^\\]]+\\])$`:
    from the last '[' whose extras are not empty and hold no ']'. Found with rfind, in linear time (the
    pattern backtracks quadratically: seconds for a 200,000-character line of brackets)."""
    end = len(text.removesuffix("\n")) - 1  # `$` matches before a final line break too
    if end < 3 or text[end] != "]":
        return text
    newline = text.find("\n")  # `.+` stops at a line break
    stop = end - 1 if newline == -1 else min(end - 1, newline)
    opening = text.rfind("[", max(text.rfind("]", 0, end) + 1, 1), stop)
    return text if opening == -1 else text[:opening]


def pep508(text: str, group: str) -> Wanted:
    """A PEP 508 string (packaging reads it): the name as written, the rest as `requirement`; Refused when
    packaging cannot read it."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        raise Refused(reason(error)) from None
    except RecursionError:
        raise Refused("nested too deeply") from None
    name = requirement.name
    if requirement.url is not None:
        # `name @ url ; marker`: what follows the '@' (neither a name nor extras can hold one), as written.
        written = text.split("@", 1)[1].strip()
        return unchecked(name, written, group, _url_reason(requirement.url))
    written = text.lstrip()[len(name) :].strip()
    return Wanted(name, written or None, group, canonicalize_name(name), str(requirement.specifier))


def _editable(value: str, group: str) -> Wanted:
    # pip's parse_editable: a local project folder, or a VCS URL; nothing else.
    target = _without_extras(value)
    if _is_url(target) and not target.lower().startswith("file:"):
        if system := _vcs(target.partition(":")[0].lower()):
            return unchecked(_url_name(target), value, group, f"an editable {system} checkout")
        raise Refused("-e takes a local folder or a version-control URL")
    if target.lower().startswith("file:") or _looks_like_path(target):
        return unchecked(_url_name(target), value, group, "an editable local folder")
    return unchecked(
        cut(target), value, group, "-e takes a local folder or a version-control URL, not a name"
    )


def _is_url(text: str) -> bool:
    """pip's is_url: a scheme pip downloads from, or a version-control one."""
    scheme, colon, _ = text.partition(":")
    scheme = scheme.lower()
    return bool(colon) and (scheme in {"http", "https", "file", "ftp"} or _vcs(scheme) is not None)


def _vcs(scheme: str) -> str | None:
    system, plus, _ = scheme.partition("+")
    return _VCS.get(system) if plus or system in {"git", "svn"} else None


def _url_reason(url: str) -> str:
    scheme = url.partition(":")[0].lower()
    if system := _vcs(scheme):
        return f"a {system} dependency"
    return "a local file (file: URL)" if scheme == "file" else "a direct URL"


def _url_name(url: str) -> str:
    """The name pip gives a URL: its #egg= fragment, or its wheel or sdist file's; else the URL, cut."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return cut(url)
    egg = parse_qs(parts.fragment).get("egg")
    if egg and egg[0]:
        return egg[0]
    return _file_name(parts.path) or cut(url)


def _file_name(path: str) -> str | None:
    filename = re.split(r"[/\\]", path)[-1]
    try:
        if filename.endswith(".whl"):
            parse_wheel_filename(filename)
        else:
            parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    # The name as the file spells it: a wheel's ends at its first '-', an sdist's at its last.
    return filename.split("-", 1)[0] if filename.endswith(".whl") else filename.rsplit("-", 1)[0]


def _looks_like_path(name: str) -> bool:
    # pip's _looks_like_path, with both separators: a file written on Windows uses '\'.
    return "/" in name or "\\" in name or name.startswith(".")


def item(text: str, notes: list[str]) -> Wanted:
    """One requirement string of a list, read as a requirements file's line; Refused when it is not one."""
    lines = list(logical_lines(text))
    if len(lines) != 1:
        raise Refused("it holds no requirement" if not lines else "it holds more than one line")
    wanted: list[Wanted] = []
    _read_line(lines[0][1], LIST, wanted, notes)
    if not wanted:
        raise Refused("it is a pip option, not a requirement")
    return wanted[0]
