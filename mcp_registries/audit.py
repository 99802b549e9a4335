"""The `audit` tool: every dependency of a manifest checked in one call."""

from __future__ import annotations

from .models import AuditResult
from .operations import Query


class Auditor:
    async def audit(self, query: Query) -> AuditResult:
        raise NotImplementedError
