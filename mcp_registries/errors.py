"""The exception tree. Every message is one sentence an agent can act on.

    RegistryError
    ├── InternalError            a bug: the one sentence for it (the server logs the details)
    ├── InvalidArgument          a tool argument was wrong (what, and what is accepted)
    ├── SearchUnavailable        the registry (or its mirror) has no search endpoint
    ├── NotFound
    │   ├── PackageNotFound      the registry has no such package (with close names that exist)
    │   ├── NoPublishedVersions  the package exists but has no version (unpublished or removed)
    │   └── VersionNotFound      the package exists, the version does not
    └── UpstreamError            a registry service failed to give an answer
        ├── UpstreamTimeout      no answer within the timeout
        ├── UpstreamUnreachable  connection refused, DNS failure, TLS failure
        ├── UpstreamStatus       an HTTP status that is not an answer (5xx, 403, ...)
        │   └── RateLimited      429, with the retry time when the service gave one
        ├── ResponseTooLarge     the body passed the size cap
        └── InvalidResponse      the body was not the JSON (or metadata) we expected

httpx's exceptions are translated into these in exactly one place: `http.py`. Errors pickle with
their attributes, so a not-found answer can be cached like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def shown(value: Any, limit: int = 40) -> str:
    """An argument value as an error sentence quotes it: one line, escaped, about `limit` characters at most."""
    if isinstance(value, str):
        # Per character, so that a cut never splits an escape and a 100 KB string costs no more than 40.
        out = ""
        for char in value:
            piece = repr(char)[1:-1]
            if len(out) + len(piece) > limit:
                return f"'{out}…'"
            out += piece
        return f"'{out}'"
    if value is None:
        return "nothing"
    if isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        # str() refuses ints past 4300 digits (the CVE-2020-10735 limit), and no such value is usable anyway.
        return str(value) if value.bit_length() <= 64 else "a number too large to show"
    return f"a {type(value).__name__}"


def _rebuild(cls: type[RegistryError], message: str, state: dict[str, Any]) -> RegistryError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RegistryError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other arguments than the message: rebuild from the attributes instead.
        return _rebuild, (type(self), self._message, dict(self.__dict__))

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        return self._message

    def __str__(self) -> str:
        return self.message


class InternalError(RegistryError):
    code = "internal_error"

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"Internal error while answering {shown(operation)}; the server logged the details. "
            "Try again, or try another tool."
        )
        self.operation = operation


class InvalidArgument(RegistryError):
    code = "invalid_argument"

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


class NotFound(RegistryError):
    code = "not_found"


#: The longest not-found sentence that close names are added to.
SUGGESTING_LIMIT = 300


class PackageNotFound(NotFound):
    def __init__(
        self, registry: str, name: str, *, detail: str | None = None, suggestions: Sequence[str] = ()
    ) -> None:
        message = f"{registry} package {shown(name, 80)} not found"
        if detail:
            message += f" ({detail})"
        # Close names are quoted whole (a name cut short names nothing), as many as keep the sentence short.
        fitting: list[str] = []
        for suggestion in suggestions:
            if len(message + _did_you_mean([*fitting, suggestion])) > SUGGESTING_LIMIT:
                break
            fitting.append(suggestion)
        super().__init__(message + _did_you_mean(fitting) if fitting else message)
        self.registry = registry
        self.name = name
        self.detail = detail
        self.suggestions = fitting

    def suggesting(self, names: Sequence[str]) -> PackageNotFound:
        """The same answer, ending with close names that exist."""
        return PackageNotFound(self.registry, self.name, detail=self.detail, suggestions=names)


def _did_you_mean(names: Sequence[str]) -> str:
    quoted = [shown(name, 10 * len(name)) for name in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f". Did you mean {listed}?"


class NoPublishedVersions(NotFound):
    def __init__(self, registry: str, name: str, *, unpublished: str | None = None) -> None:
        why = f"it was unpublished on {unpublished}" if unpublished else "unpublished or removed"
        super().__init__(f"{registry} package {shown(name, 80)} has no published versions ({why})")
        self.registry = registry
        self.name = name
        self.unpublished = unpublished


class VersionNotFound(NotFound):
    def __init__(
        self,
        registry: str,
        name: str,
        version: str,
        *,
        latest: str | None = None,
        nearby: Sequence[str] = (),
    ) -> None:
        message = f"{registry} package {shown(name, 80)} has no version {shown(version)}"
        if latest:
            message += f"; the latest version is {latest}"
        others = [v for v in nearby if v != latest]
        if others:
            message += f" (nearby: {', '.join(others)})"
        super().__init__(message)
        self.registry = registry
        self.name = name
        self.version = version
        self.latest = latest
        self.nearby = list(nearby)


class UpstreamError(RegistryError):
    code = "upstream_error"

    def __init__(self, service: str, url: str, what: str) -> None:
        super().__init__("")
        self.service = service
        self.url = url
        self.what = what
        #: None: no cache was consulted; False: nothing cached; True: a stale answer was served.
        self.served_stale: bool | None = None
        #: When the upstream is down and was not asked this time: when it is asked again.
        self.next_try: str | None = None

    @property
    def message(self) -> str:
        text = f"{self.service} failed: {self.what}"
        if self.next_try:
            text += f"; {self.next_try}"
        if self.served_stale is True:
            return text + "; a cached answer was served instead."
        if self.served_stale is False:
            return text + "; no cached answer was available."
        return text + "."


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"


class UpstreamUnreachable(UpstreamError):
    code = "upstream_unreachable"


class UpstreamStatus(UpstreamError):
    def __init__(self, service: str, url: str, status: int, what: str | None = None) -> None:
        super().__init__(service, url, what or f"it answered HTTP {status}")
        self.status = status


class RateLimited(UpstreamStatus):
    code = "rate_limited"

    def __init__(self, service: str, url: str, retry_after: float | None) -> None:
        what = "it is rate limiting requests (HTTP 429)"
        if retry_after is not None:
            what += f"; retry after {retry_after:.0f} s"
        super().__init__(service, url, 429, what)
        self.retry_after = retry_after


class ResponseTooLarge(UpstreamError):
    code = "response_too_large"

    def __init__(self, service: str, url: str, limit: int) -> None:
        size = f"{limit / 1048576:g} MB" if limit >= 1048576 else f"{limit / 1024:g} KB"
        super().__init__(service, url, f"its response passed the {size} size limit")
        self.limit = limit


class SearchUnavailable(RegistryError):
    """The registry, or the mirror in front of it, has no search endpoint (404, 405 or 501)."""

    code = "search_unavailable"

    def __init__(self, service: str, status: int, endpoint: str) -> None:
        super().__init__(
            f"This {service} (or the mirror configured for it) offers no search: its {endpoint} answered "
            f"HTTP {status}. Look packages up by their exact name instead."
        )
        self.service = service
        self.status = status


class InvalidResponse(UpstreamError):
    code = "invalid_upstream_response"

    def __init__(self, service: str, url: str, why: str) -> None:
        super().__init__(service, url, f"it sent an invalid response ({why})")
