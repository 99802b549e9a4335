"""Known vulnerabilities from OSV (https://osv.dev): one `POST /v1/querybatch` for many package versions,
then each advisory's details from `GET /v1/vulns/<id>`, cached for a day.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import RegistryName, Vulnerability

#: OSV's ecosystem names.
ECOSYSTEMS: dict[RegistryName, str] = {"npm": "npm", "pypi": "PyPI"}


@dataclass(frozen=True, slots=True)
class Asked:
    registry: RegistryName
    #: The registry's name for the package (npm: as is; PyPI: the display or normalized name).
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Found:
    #: Per asked package version: its vulnerabilities ([] when OSV knows none). None: OSV could not be asked
    #: (turned off, unreachable, failing): unknown, never "none".
    vulnerabilities: dict[Asked, list[Vulnerability]] | None
    notes: list[str]


class Osv:
    async def lookup(self, asked: list[Asked]) -> Found:
        """Every asked version's vulnerabilities: querybatch (chunks of 1,000, page tokens followed), then
        the details of each advisory id concurrently (cached a day); at most 16 requests in flight."""
        raise NotImplementedError
