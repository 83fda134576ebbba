"""The index snapshot file: a checksummed header, then the serialised FAISS index.

Layout (little-endian)::

    b"HEEDIDX1"                    8 bytes, magic and format version
    header length                  4 bytes, unsigned
    SHA-256 of the header          32 bytes
    header                         UTF-8 JSON, see `SnapshotHeader`
    payload                        FAISS ``serialize_index`` bytes

The payload's length and CRC-32 are in the header, so truncation and flipped bits
anywhere in the file are caught before FAISS parses a byte (CRC-32 detects every burst
of up to 32 flipped bits and misses random damage with odds of 2^-32; it runs at about
2 GB/s here, twice SHA-256, and checking it is on the open path). A snapshot is written to a
temporary file in the same folder, fsynced, renamed over the old one and the folder
fsynced: a crash at any point leaves either the old snapshot or the new one, whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

MAGIC = b"HEEDIDX1"
TEMP_MARK = ".tmp-"
QUARANTINE_MARK = ".corrupt-"
_PREFIX = struct.Struct("<8sI32s")
WRITE_CHUNK = 16 << 20


class SnapshotError(Exception):
    """A snapshot file is damaged: truncated, bit-flipped or not a snapshot at all."""


@dataclass(frozen=True)
class SnapshotHeader:
    """What a snapshot covers and how to check it.

    Attributes:
        db_id: the id of the SQLite database the index was built from.
        watermark: the largest record id the index has seen (later rows are replayed).
        model: embedding model name of the vectors.
        dimension: vector length.
        layout: index layout, ``flat`` or ``hnsw``.
        vectors: vectors in the index, dead ones included.
        dead: how many of them belonged to deleted records when it was written.
        payload_bytes: length of the serialised index.
        payload_crc32: its CRC-32.
        written_at: when the snapshot was written, ISO 8601 UTC.
    """

    db_id: str
    watermark: int
    model: str
    dimension: int
    layout: str
    vectors: int
    dead: int
    payload_bytes: int
    payload_crc32: int
    written_at: str

    @classmethod
    def from_json(cls, data: bytes) -> SnapshotHeader:
        try:
            fields = json.loads(data.decode("utf-8"))
            return cls(**fields)
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as error:
            raise SnapshotError(f"unreadable header ({error})") from None


def write_snapshot(path: Path, header: SnapshotHeader, payload: np.ndarray) -> None:
    """Write `payload` under `header` to `path` atomically and durably.

    Raises:
        OSError: the write failed (ENOSPC included); the old file at `path` is untouched and
            the temporary file removed.
    """
    header_bytes = json.dumps(asdict(header), sort_keys=True).encode("utf-8")
    prefix = _PREFIX.pack(MAGIC, len(header_bytes), hashlib.sha256(header_bytes).digest())
    temp = path.with_name(f"{path.name}{TEMP_MARK}{os.getpid()}")
    try:
        _write_file(temp, [prefix, header_bytes, memoryview(payload)])
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_folder(path.parent)


def header_for(payload: np.ndarray, **fields: object) -> SnapshotHeader:
    """A header for `payload`: its length and checksum plus the given fields."""
    written = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SnapshotHeader(
        payload_bytes=len(payload),
        payload_crc32=zlib.crc32(memoryview(payload)),
        written_at=written,
        **fields,
    )


def read_snapshot(path: Path) -> tuple[SnapshotHeader, np.ndarray]:
    """The header and payload of a snapshot, both verified.

    Raises:
        FileNotFoundError: there is no snapshot.
        SnapshotError: the file is damaged (the message says how).
    """
    data = np.fromfile(path, dtype=np.uint8)
    if len(data) < _PREFIX.size:
        raise SnapshotError(f"truncated to {len(data)} bytes")
    magic, header_len, header_digest = _PREFIX.unpack(data[: _PREFIX.size].tobytes())
    header_end = _PREFIX.size + header_len
    header_bytes = data[_PREFIX.size : header_end].tobytes()
    header = _parse_header(magic, header_len, header_digest, header_bytes)
    payload = data[header_end:]
    if len(payload) != header.payload_bytes:
        raise SnapshotError(f"index is {len(payload)} bytes, header says {header.payload_bytes}")
    if zlib.crc32(memoryview(payload)) != header.payload_crc32:
        raise SnapshotError("index checksum mismatch")
    return header, payload


def read_header(path: Path) -> SnapshotHeader:
    """The verified header of a snapshot, without reading or checking the index."""
    with open(path, "rb") as file:
        prefix = file.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise SnapshotError(f"truncated to {len(prefix)} bytes")
        magic, header_len, header_digest = _PREFIX.unpack(prefix)
        header_bytes = file.read(header_len) if magic == MAGIC else b""
    return _parse_header(magic, header_len, header_digest, header_bytes)


def quarantine(path: Path) -> Path:
    """Rename a damaged snapshot aside with a UTC timestamp; return its new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}{QUARANTINE_MARK}{stamp}")
    serial = 1
    while target.exists():
        serial += 1
        target = path.with_name(f"{path.name}{QUARANTINE_MARK}{stamp}-{serial}")
    os.replace(path, target)
    fsync_folder(path.parent)
    return target


def remove_temporaries(path: Path) -> list[Path]:
    """Delete temporary files that writers of `path` left behind when they died."""
    removed = []
    for temp in path.parent.glob(f"{path.name}{TEMP_MARK}*"):
        with contextlib.suppress(OSError):
            temp.unlink()
            removed.append(temp)
    return removed


def _parse_header(magic: bytes, length: int, digest: bytes, data: bytes) -> SnapshotHeader:
    if magic != MAGIC:
        raise SnapshotError("not a heedbot index snapshot (bad magic)")
    if len(data) != length or hashlib.sha256(data).digest() != digest:
        raise SnapshotError("header checksum mismatch")
    return SnapshotHeader.from_json(data)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, chunks: Sequence[bytes | memoryview]) -> None:
    """Write `chunks` to a new file at `path` and fsync it."""
    with open(path, "wb") as file:
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            for start in range(0, len(view), WRITE_CHUNK):
                file.write(view[start : start + WRITE_CHUNK])
        file.flush()
        os.fsync(file.fileno())
