"""The real pip as the judge of the PyPI tree: what `pip install --dry-run --report` would install.

pip takes the target Python (`--python-version`) and platform (`--platform`) for Requires-Python and wheel
tags, but evaluates environment markers against the interpreter running it (pypa/pip#11664): asked for
Windows on Linux it would leave out `colorama; sys_platform == "win32"`. So pip runs here with its own
`packaging.markers.default_environment` replaced by the environment the resolver reports: both sides then
read every marker alike, and everything else (the resolver, the index, the rules) is pip's own.

The machine's pip configuration is dropped (`PIP_CONFIG_FILE=/dev/null` and no `PIP_*` variables but the
certificate bundle): it adds local wheel folders, extra indexes and a constraints file. pip reads the same
Simple API the server does (`<MCP_REGISTRIES_PYPI_URL>simple/`). A target platform needs wheels only
(`--only-binary=:all:`, which pip requires with `--platform`): pip then skips a version that has no wheel
for the target, where the resolver, which reads no file list, would not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from mcp_registries.tree_pypi import Platform


@dataclass(frozen=True)
class Case:
    """One root to resolve and compare: `name[extras]==version` on CPython `python` on `platform`."""

    name: str
    version: str
    extras: tuple[str, ...] = ()
    python: str = "3.12"
    platform: Platform = "linux"

    @property
    def requirement(self) -> str:
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"

    @property
    def key(self) -> str:
        return f"{self.requirement} python {self.python} {self.platform}"


#: The roots recorded in tests/data/tree/pypi and compared there with pip's reports.
CASES = (
    Case("fastapi", "0.115.6", ("standard",)),
    Case("uvicorn", "0.32.1", ("standard",)),
    Case("uvicorn", "0.32.1", ("standard",), platform="windows"),
    Case("requests", "2.32.3"),
    Case("requests", "2.32.3", python="3.8"),
    Case("flask", "3.0.3"),
    Case("flask", "3.0.3", python="3.8"),
    Case("click", "8.1.7"),
    Case("click", "8.1.7", platform="windows"),
)

#: Wheel platform tags per target: pip expands `manylinux2014` down to manylinux1 but not the PEP 600
#: `manylinux_2_X` tags, so each glibc is listed (2.17 to 2.39, what a current distribution runs).
PLATFORM_TAGS = {
    "linux": [*(f"manylinux_2_{minor}_x86_64" for minor in range(39, 16, -1)), "manylinux2014_x86_64"],
    "macos": ["macosx_14_0_x86_64"],
    "windows": ["win_amd64"],
}

_RUN = """
import json, sys
import pip._vendor.packaging.markers as markers
environment = json.loads(sys.argv[1])
markers.default_environment = lambda: dict(environment)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def pip_command() -> list[str]:
    """The interpreter whose pip judges: MCP_REGISTRIES_PIP_PYTHON, else this one."""
    return [os.environ.get("MCP_REGISTRIES_PIP_PYTHON") or sys.executable]


def simple_url() -> str:
    base = os.environ.get("MCP_REGISTRIES_PYPI_URL") or "https://pypi.org/"
    return base.rstrip("/") + "/simple/"


def pip_environment() -> dict[str, str]:
    """This process's environment without pip's configuration (the CA bundle kept: mirrors need it)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    return {**kept, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def pip_arguments(requirement: str, environment: Mapping[str, str], platform: str, report: Path) -> list[str]:
    # pip before 24 wants --target with platform options even for a dry run (which installs nothing there).
    target = str(report.parent / "target")
    arguments = [
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        str(report),
        "--target",
        target,
    ]
    arguments += ["--index-url", simple_url(), "--only-binary=:all:"]
    arguments += ["--python-version", environment["python_full_version"], "--implementation", "cp"]
    for tag in PLATFORM_TAGS[platform]:
        arguments += ["--platform", tag]
    return [*arguments, requirement]


def pip_install(
    requirement: str, environment: Mapping[str, str], platform: str, *, python: Sequence[str] | None = None
) -> dict[str, str]:
    """What pip would install for one requirement line: normalized name -> version (pip's report)."""
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "report.json"
        command = [
            *(python or pip_command()),
            "-c",
            _RUN,
            json.dumps(dict(environment)),
            *pip_arguments(requirement, environment, platform, report),
        ]
        done = subprocess.run(
            command, check=False, env=pip_environment(), capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return installed(json.loads(report.read_text()))


def installed(report: Mapping[str, object]) -> dict[str, str]:
    """The `install` entries of a pip report (https://pip.pypa.io/en/stable/reference/installation-report/)."""
    entries = report.get("install")
    assert isinstance(entries, list)
    return {canonicalize_name(e["metadata"]["name"]): e["metadata"]["version"] for e in entries}
