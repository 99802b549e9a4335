"""One shared httpx.AsyncClient. The only place httpx's exceptions and HTTP statuses become ours.

Requests are GETs, or POSTs with a JSON body that only read (OSV's querybatch): both are safe to
repeat, so one policy covers them (a POST is never conditional, and follows only 307/308 redirects,
which keep its method and body).

Policy: a 404/410 is an answer (`Missing`), never retried; so is a 501 (not implemented there).
Connection errors, timeouts, other 5xx and 429 are retried with exponential backoff and jitter; a
429's `Retry-After` is honoured when it fits the call's time bound. Bodies are streamed and aborted
past a size cap. Redirects are followed only within the configured base URL the request was made
under (PyPI redirects to normalized names). URLs that upstream documents give (file and PEP 658
metadata URLs) are asked only at the origins of the configured bases and of PyPI's file host; one
under no base may only redirect within its own origin. A URL elsewhere (another host or port,
`file:`, a cloud metadata address) or a malformed one is that upstream's invalid response, and
nothing is sent. Validators (`ETag`, `Last-Modified`) come back with each body, and a conditional
request answered 304 raises `NotModified`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx
import truststore

from . import __version__
from .clock import Clock
from .errors import (
    InvalidResponse,
    RateLimited,
    ResponseTooLarge,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnreachable,
    shown,
)
from .fetching import Fetch, Fetched, Missing, NotModified, Validators, undecodable
from .outages import Outages
from .settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = f"mcp-registries/{__version__} (+https://github.com/mcp-registries/mcp-registries)"
_MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: 501: the server does not support what was asked (RFC 9110 §15.6.2), as a mirror without npm's search
#: endpoint answers. An answer, like a 404: asking again cannot help, and the upstream is not down.
_NOT_IMPLEMENTED = 501


class _Retry(Exception):
    def __init__(self, error: UpstreamError, delay: float | None = None) -> None:
        self.error = error
        self.delay = delay


#: Where Linux distributions keep their CA bundle, for systems whose OpenSSL defaults point nowhere.
_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
)


def _ssl_context() -> ssl.SSLContext:
    """The operating system's trust store, so TLS-intercepting corporate proxies work even when an MCP
    client starts us with a minimal environment (no SSL_CERT_FILE).

    macOS and Windows: truststore (the platform's verifier). Elsewhere the system store is OpenSSL's
    default paths, which truststore would load again on every new connection, holding a lock (~21 ms of
    CPU each: 16 connections of an audit queued for ~0.4 s); here they are loaded once.
    """
    if sys.platform in ("darwin", "win32"):
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl.create_default_context()
    defaults = ssl.get_default_verify_paths()
    if not defaults.cafile and not (defaults.capath and any(Path(defaults.capath).glob("*.[0-9]"))):
        bundle = next((path for path in _CA_BUNDLES if Path(path).is_file()), None)
        if bundle is not None:
            context.load_verify_locations(cafile=bundle)
    return context


class HttpClient:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 0.25,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.backoff = backoff
        self.clock = clock or Clock()
        s = settings
        self._bases = (s.npm_url, s.npm_downloads_url, s.pypi_url, s.pypistats_url, s.pypi_files_url) + (
            (s.osv_url,) if s.osv_enabled else ()
        )
        #: Where requests may go at all, whatever an upstream document or redirect says.
        self._origins = frozenset(_origin(httpx.URL(base)) for base in self._bases)
        #: Requests sent: /healthz's counter, and the benchmarks' proof of cache hits.
        self.request_count = 0
        #: Upstreams that failed recently, answered at once until their cool-down ends.
        self.outages = Outages(settings.outage_cooldown, self.clock.now)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            follow_redirects=False,
            transport=transport,
            verify=_ssl_context() if transport is None else True,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, fetch: Fetch) -> Any:
        """One document: decoded JSON (or text), `Missing` on 404/410, an `UpstreamError` otherwise."""
        return (await self.get(fetch)).data

    async def get(self, fetch: Fetch, validators: Validators | None = None) -> Fetched:
        """`fetch`, conditionally when validators are given (`NotModified` on 304), with the new validators.

        An upstream that is down (see `outages`) is not asked: its error is raised at once.
        """
        upstream = fetch.outage_scope or self._scope(fetch.url)
        probe = self.outages.admit(upstream)
        try:
            return await self._attempts(fetch, validators, upstream)
        finally:
            if probe:
                # However the probe ended (an answer, a new cool-down, a cancellation, a URL refused
                # before sending), it no longer holds the probe: the next request may try.
                self.outages.gave_up(upstream)

    async def _attempts(self, fetch: Fetch, validators: Validators | None, upstream: str) -> Fetched:
        conditional = validators.headers() if validators and fetch.payload is None else {}
        started = self.clock.now()
        bound = fetch.time_limit or self.settings.total_timeout
        attempt = 0
        while True:
            try:
                with anyio.fail_after(max(0.0, bound - (self.clock.now() - started))):
                    body, received = await self._get(fetch, conditional, upstream)
                break
            except TimeoutError:
                timeout = UpstreamTimeout(fetch.service, fetch.url, f"it did not answer within {bound:.0f} s")
                self.outages.failed(upstream, timeout)
                raise timeout from None
            except _Retry as retry:
                attempt += 1
                delay = retry.delay if retry.delay is not None else self.backoff * 2 ** (attempt - 1)
                delay += random.uniform(0, self.backoff)
                remaining = bound - (self.clock.now() - started)
                if attempt > self.settings.retries or delay >= remaining:
                    self.outages.failed(upstream, retry.error)
                    raise retry.error from None
                log.info("retrying %s in %.2f s: %s", fetch.url, delay, retry.error.what)
                await self.clock.sleep(delay)
        if fetch.body == "bytes":
            return Fetched(body, received)
        if fetch.body == "text":
            return Fetched(body.decode("utf-8", errors="replace"), received)
        try:
            return Fetched(json.loads(body), received)
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(fetch.service, fetch.url, undecodable(body)) from None

    def _scope(self, url: str) -> str:
        """Where redirects from `url` may lead: the configured base URL it lies under, or (a URL at an
        allowed origin under no base, such as a file host) its own origin."""
        try:
            parts = urlsplit(url)
        except ValueError:  # malformed: `_target` refuses it before anything is sent
            return url
        origin = f"{parts.scheme}://{parts.netloc}/"
        return max((b for b in self._bases if url.startswith(b)), key=len, default=origin)

    def _target(self, fetch: Fetch, url: str, lead: str) -> httpx.URL:
        """`url` as it will be sent, when it is well formed and at an allowed origin. Compared as httpx
        parsed it, so what is checked is what is sent (scheme, host and port: no `file:`, no other port)."""
        target = _parse(fetch, url, lead)
        if _origin(target) not in self._origins:
            raise InvalidResponse(
                fetch.service,
                url,
                f"the document pointed at {shown(url, 60)}, outside the configured upstreams",
            )
        return target

    async def _get(
        self, fetch: Fetch, conditional: dict[str, str], upstream: str
    ) -> tuple[Any, Validators | None]:
        url = fetch.url
        target = self._target(fetch, url, "the document gave")
        scope = self._scope(url)
        for _ in range(_MAX_REDIRECTS + 1):
            self.request_count += 1
            try:
                headers = {"Accept": fetch.accept, **conditional}
                if fetch.payload is not None:
                    headers["Content-Type"] = "application/json"
                async with self._client.stream(
                    fetch.method, target, headers=headers, content=fetch.payload
                ) as response:
                    status = response.status_code
                    if (status < 500 or status == _NOT_IMPLEMENTED) and status != 429:
                        # It answered (even a 404, or a body unusable below): it is up.
                        self.outages.answered(upstream)
                    if status in (301, 302, 303) and fetch.payload is not None:
                        # Clients resend these as a GET without the body (RFC 9110 §15.4): not the query.
                        raise UpstreamStatus(
                            fetch.service, url, status, f"it redirected a query with HTTP {status}"
                        )
                    if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                        url = _redirect(fetch, url, response.headers["location"], scope, status)
                        target = self._target(fetch, url, "it redirected to")
                        continue
                    if status == 304 and conditional:
                        raise NotModified(url)
                    if status in (404, 410):
                        raise Missing(fetch, status)
                    if status == 429:
                        retry_after = _retry_after(response.headers.get("retry-after"))
                        raise _Retry(RateLimited(fetch.service, url, retry_after), retry_after)
                    if status >= 500 and status != _NOT_IMPLEMENTED:
                        raise _Retry(UpstreamStatus(fetch.service, url, status))
                    if not 200 <= status < 300:
                        raise UpstreamStatus(fetch.service, url, status)
                    etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
                    received = Validators(etag, modified) if etag or modified else None
                    return await self._read_capped(response, fetch), received
            except httpx.TimeoutException:
                raise _Retry(
                    UpstreamTimeout(
                        fetch.service, url, f"it did not answer within {self.settings.read_timeout:.0f} s"
                    )
                ) from None
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise _Retry(
                    InvalidResponse(fetch.service, url, f"the connection broke: {type(exc).__name__}")
                ) from None
            except httpx.DecodingError:
                raise InvalidResponse(fetch.service, url, "the body could not be decompressed") from None
            except httpx.TransportError as exc:
                raise _Retry(
                    UpstreamUnreachable(fetch.service, url, f"it could not be reached ({_reason(exc)})")
                ) from None
        raise UpstreamStatus(fetch.service, url, 310, "it redirected too many times")

    async def _read_capped(self, response: httpx.Response, fetch: Fetch) -> Any:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("content-length")
        if (
            declared
            and declared.isdigit()
            and int(declared) > limit
            and not response.headers.get("content-encoding")
        ):
            raise ResponseTooLarge(fetch.service, fetch.url, limit)
        reader = fetch.reader() if fetch.body == "bytes" and fetch.reader is not None else _Buffer()
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > limit:
                raise ResponseTooLarge(fetch.service, fetch.url, limit)
            reader.feed(chunk)
        return reader.finish()


class _Buffer:
    """The body as it came. One growing buffer, not chunks joined at the end: a 21 MB packument is held
    once, not twice."""

    def __init__(self) -> None:
        self.body = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.body += chunk

    def finish(self) -> bytearray:
        return self.body


def _parse(fetch: Fetch, url: str, lead: str) -> httpx.URL:
    """`url` as httpx will send it. A malformed URL comes from an upstream (a document or a redirect), so
    it is that upstream's invalid response, refused here before httpx raises what no caller expects."""
    try:
        parsed = httpx.URL(url)
        # urllib must read it too: redirects are resolved with it, and it refuses what httpx lets through,
        # percent-encoded ('http://a]b/') or left to the socket layer (port 99999, whose OverflowError
        # comes out of anyio's connection attempts as an exception group).
        _ = urlsplit(url).port
    except (httpx.InvalidURL, ValueError):
        raise _malformed(fetch, url, lead) from None
    return parsed


def _redirect(fetch: Fetch, url: str, location: str, scope: str, status: int) -> str:
    """Where a redirect from `url` leads, when that stays within `scope`."""
    try:
        target = urljoin(url, location)
    except ValueError:  # urllib refuses a bracket in the host that httpx would percent-encode
        raise _malformed(fetch, location, "it redirected to") from None
    if not target.startswith(scope):
        raise UpstreamStatus(fetch.service, url, status, f"it redirected outside {scope}")
    return target


def _malformed(fetch: Fetch, url: str, lead: str) -> InvalidResponse:
    return InvalidResponse(fetch.service, url, f"{lead} a malformed URL, {shown(url, 60)}")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    # httpx lowercases the scheme and host, but drops a default port only when the scheme was
    # written in lowercase ('HTTPS://h:443/' keeps 443): the port is filled in here instead.
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return "connection failed" + (f": {text[:120]}" if text else "")
    return text[:120] or type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
