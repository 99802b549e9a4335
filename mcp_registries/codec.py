"""Cache entries as bytes for a cache server that every replica shares: data, never code.

diskcache pickles, which is fine for a directory one user owns. A shared server is written by every
replica (and anything else that reaches it), and unpickling runs whatever the writer chose: so here an
entry is one of a closed set of kinds, each read back by a validating parser that builds data only.

A record is `MAGIC`, one line of JSON (the kind, when it was stored, its TTL, the upstream's validators,
how the body is packed), then the body:
- the documents the cache keeps (package indexes, version documents, download counts, OSV's answers):
  pydantic's JSON, zlib-compressed past `COMPRESS_FROM` (indexes of big packages shrink ~4×, and
  decompressing costs less than moving the bytes);
- a cached not-found answer: the error's class (one of the not-found classes) and its fields;
- a tuple of buffers (PyPI's project-name index): the buffers back to back, their types and lengths
  in the header, nothing parsed.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .cache import Entry
from .errors import NoPublishedVersions, NotFound, PackageNotFound, VersionNotFound, _rebuild
from .fetching import Absent, Validators
from .models import DownloadsResult
from .osv import Advisory, Batch
from .registries.base import IndexBundle, VersionDoc

#: The record layout; part of every shared key too (see `shared.py`), so a new layout reads no old record.
VERSION = 1
MAGIC = b"mcp-registries/%d\n" % VERSION
#: Bodies larger than this are compressed (level 1: ~100 MB/s, a 300 KB index in ~3 ms).
COMPRESS_FROM = 16 * 1024

#: The documents cached, by kind. A new kind of cached value must be added here to be shared.
DOCUMENTS: dict[str, TypeAdapter[Any]] = {
    "index": TypeAdapter(IndexBundle),
    "version": TypeAdapter(VersionDoc),
    "downloads": TypeAdapter(DownloadsResult),
    "osv-batch": TypeAdapter(Batch),
    "osv-advisory": TypeAdapter(Advisory),
}
_KINDS: dict[type, str] = {
    IndexBundle: "index",
    VersionDoc: "version",
    DownloadsResult: "downloads",
    Batch: "osv-batch",
    Advisory: "osv-advisory",
}
#: The not-found answers that are cached (see `fetching.Absent`), rebuilt from their fields.
NOT_FOUND: dict[str, type[NotFound]] = {
    cls.__name__: cls for cls in (NotFound, PackageNotFound, VersionNotFound, NoPublishedVersions)
}


class Unshareable(TypeError):
    """A value of a kind the shared cache does not know (kept in this replica's memory only)."""


class Unreadable(ValueError):
    """Bytes that are not a record this version wrote: another program's, a damaged one, a hostile one."""


def encode(entry: Entry) -> bytes:
    value = entry.value
    header: dict[str, Any] = {"stored_at": entry.stored_at, "ttl": entry.ttl}
    if isinstance(entry.validators, Validators):
        header["etag"] = entry.validators.etag
        header["last_modified"] = entry.validators.last_modified
    elif entry.validators is not None:
        raise Unshareable(f"validators of type {type(entry.validators).__name__}")
    kind = _KINDS.get(type(value))
    if kind is not None:
        header["kind"] = kind
        body = DOCUMENTS[kind].dump_json(value)
    elif isinstance(value, Absent) and type(value.error).__name__ in NOT_FOUND:
        header["kind"] = "not-found"
        fields = {k: v for k, v in vars(value.error).items() if k != "_message"}
        error = {"class": type(value.error).__name__, "message": value.error.message, "fields": fields}
        body = json.dumps(error).encode()
    elif isinstance(value, tuple) and all(isinstance(part, bytes | bytearray | array) for part in value):
        header["kind"] = "buffers"
        header["parts"] = [_part(part) for part in value]
        header["byteorder"] = sys.byteorder
        return b"".join((MAGIC, json.dumps(header).encode(), b"\n", *value))
    else:
        raise Unshareable(f"a value of type {type(value).__name__}")
    if len(body) >= COMPRESS_FROM:
        header["zlib"] = True
        body = zlib.compress(body, 1)
    return b"".join((MAGIC, json.dumps(header).encode(), b"\n", body))


def _part(part: bytes | bytearray | array[Any]) -> list[Any]:
    if isinstance(part, array):
        return ["array", part.typecode, len(part) * part.itemsize]
    return ["bytes", None, len(part)]


def decode(record: bytes) -> Entry:
    """The entry a record holds; `Unreadable` for anything else (never code run, never a crash)."""
    if not record.startswith(MAGIC):
        raise Unreadable("not a record of this format")
    end = record.find(b"\n", len(MAGIC))
    if end < 0:
        raise Unreadable("a record without its header line")
    try:
        header = json.loads(record[len(MAGIC) : end])
        stored_at, ttl = float(header["stored_at"]), float(header["ttl"])
        kind = header["kind"]
        body = memoryview(record)[end + 1 :]
        value = _BODIES[kind](header, body) if kind in _BODIES else _document(kind, header, body)
        validators = None
        if header.get("etag") is not None or header.get("last_modified") is not None:
            validators = Validators(_text(header.get("etag")), _text(header.get("last_modified")))
    except (KeyError, TypeError, ValueError, ValidationError, zlib.error) as exc:
        raise Unreadable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return Entry(value=value, stored_at=stored_at, ttl=ttl, validators=validators)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("a validator is not text")


def _document(kind: str, header: dict[str, Any], body: memoryview) -> Any:
    adapter = DOCUMENTS.get(kind)
    if adapter is None:
        raise ValueError(f"unknown kind {kind!r}")
    return adapter.validate_json(zlib.decompress(body) if header.get("zlib") else bytes(body))


def _not_found(header: dict[str, Any], body: memoryview) -> Absent:
    data = json.loads(bytes(body))
    cls = NOT_FOUND[data["class"]]
    fields = data["fields"]
    if not isinstance(fields, dict) or not all(_plain(v) for v in fields.values()):
        raise TypeError("a not-found answer's fields are not plain data")
    message = _text(data["message"]) or ""
    error = _rebuild(cls, message, {**fields, "_message": message})
    assert isinstance(error, NotFound)
    return Absent(error)


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, str | bool)


def _buffers(header: dict[str, Any], body: memoryview) -> tuple[Any, ...]:
    parts: list[Any] = []
    offset = 0
    for kind, typecode, size in header["parts"]:
        piece = body[offset : offset + int(size)]
        offset += int(size)
        if kind == "bytes":
            parts.append(bytes(piece))
        elif kind == "array" and typecode in ("I", "L", "Q", "i"):
            column = array(typecode)
            column.frombytes(piece)
            if header.get("byteorder") != sys.byteorder:
                column.byteswap()
            parts.append(column)
        else:
            raise ValueError(f"unknown part {kind!r}")
    if offset != len(body):
        raise ValueError("the parts do not add up to the body")
    return tuple(parts)


_BODIES: dict[str, Callable[[dict[str, Any], memoryview], Any]] = {
    "not-found": _not_found,
    "buffers": _buffers,
}
