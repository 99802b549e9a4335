"""One Settings object, read from the environment (MCP_REGISTRIES_*) once and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import platformdirs
from pydantic import BaseModel, ConfigDict, field_validator

ENV_PREFIX = "MCP_REGISTRIES_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Settings fields read from a variable of their own (MCP_REGISTRIES_<suffix>).
_FROM_ENV = {
    "npm_url": "NPM_URL",
    "npm_downloads_url": "NPM_DOWNLOADS_URL",
    "pypi_url": "PYPI_URL",
    "pypistats_url": "PYPISTATS_URL",
    "pypi_files_url": "PYPI_FILES_URL",
    "osv_url": "OSV_URL",
    "cache_dir": "CACHE_DIR",
    "cache_url": "CACHE_URL",
    "log_level": "LOG_LEVEL",
    "auth_token": "AUTH_TOKEN",
}
_OFF = frozenset({"off", "0", "false", "no", "disabled"})
#: Every variable the server reads: the README and server.json document each of them.
ENV_VARS = frozenset(ENV_PREFIX + var for var in (*_FROM_ENV.values(), "CACHE", "OSV"))


def _shown(url: str) -> str:
    """A URL for an error sentence, without a password it may carry."""
    parts = urlsplit(url)
    return url.replace(parts.password, "***") if parts.password else url


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    npm_url: str = "https://registry.npmjs.org/"
    npm_downloads_url: str = "https://api.npmjs.org/"
    pypi_url: str = "https://pypi.org/"
    pypistats_url: str = "https://pypistats.org/"
    #: PyPI's file host: wheels and their PEP 658 metadata files. Only its origin counts: URLs that
    #: upstream documents give are fetched from it and the bases' origins, never from elsewhere.
    pypi_files_url: str = "https://files.pythonhosted.org/"
    #: The OSV API (known vulnerabilities); with `osv_enabled` false it is never asked, nor an allowed origin.
    osv_url: str = "https://api.osv.dev/"
    osv_enabled: bool = True
    cache_dir: Path = Path(platformdirs.user_cache_dir("mcp-registries"))
    #: A Redis or Valkey server every replica shares (redis://, rediss://, unix://), instead of diskcache.
    cache_url: str | None = None
    cache_enabled: bool = True
    #: diskcache's size limit; entries are evicted (least recently stored first) past it.
    cache_size_limit: int = 256 * 1024 * 1024
    log_level: str = "WARNING"
    auth_token: str | None = None

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    #: Upper bound on one tool call's time spent on one upstream document, retries included.
    total_timeout: float = 30.0
    retries: int = 2
    #: Seconds an upstream that failed is answered for at once (stale entry or error) before a probe.
    outage_cooldown: float = 30.0
    #: Streamed bodies are aborted past this; the largest real packuments are ~30 MB uncompressed.
    max_response_bytes: int = 64 * 1024 * 1024

    @field_validator("npm_url", "npm_downloads_url", "pypi_url", "pypistats_url", "pypi_files_url", "osv_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, got {value!r}")
        try:
            # Every URL the HTTP client sends must pass both parsers (see http.py): a base either one
            # refuses would fail every request, so it stops the program here instead.
            _ = urlsplit(value).port
            host = httpx.URL(value).host
        except (httpx.InvalidURL, ValueError):
            host = ""
        if not host:
            raise ValueError(f"base URL must be a well-formed URL with a host, got {value!r}")
        # A trailing slash makes every upstream URL a child of the base, path prefix included.
        return value if value.endswith("/") else value + "/"

    @field_validator("cache_url")
    @classmethod
    def _cache_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                f"cache URL must start with redis://, rediss:// or unix://, got {_shown(value)!r}"
            )
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"cache URL has an invalid port: {_shown(value)!r}") from None
        if not (parts.path if parts.scheme == "unix" else parts.hostname):
            where = "a socket path" if parts.scheme == "unix" else "a host"
            raise ValueError(f"cache URL must name {where}, got {_shown(value)!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, var in _FROM_ENV.items():
            raw = env.get(ENV_PREFIX + var, "").strip()
            if raw:
                values[field] = raw
        if env.get(ENV_PREFIX + "CACHE", "").strip().lower() in _OFF:
            values["cache_enabled"] = False
        if env.get(ENV_PREFIX + "OSV", "").strip().lower() in _OFF:
            values["osv_enabled"] = False
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
