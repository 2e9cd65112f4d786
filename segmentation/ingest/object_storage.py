"""Input files in object storage: `s3://bucket/key.parquet` or a pattern such as
`s3://bucket/prefix/*.parquet`, through pyarrow's S3 filesystem (AWS or any S3-compatible store with
`--s3-endpoint URL` or AWS_ENDPOINT_URL). DuckDB's httpfs extension is not used: it downloads itself.

Each matching object is streamed in chunks to a file in the run's scratch directory and then read exactly
like a local file of its kind (CSV/TSV/TXT and .gz, Parquet, XLSX), so its checksum is the sha256 of its
bytes, as for a local file. Credentials come from the AWS SDK's usual places (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, instance roles); they are never shown or stored.
"""

from __future__ import annotations

import fnmatch
import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from segmentation.errors import InputError
from segmentation.ingest.common import SUFFIXES

SCHEME = "s3://"
_GLOB = "*?["
_COPY_CHUNK = 8 << 20


@dataclass(frozen=True)
class S3Source:
    address: str  # as given (no credentials can be in it)
    bucket: str
    key: str  # a key or a pattern
    endpoint: str | None  # --s3-endpoint; None: AWS_ENDPOINT_URL(_S3) or AWS itself


def is_s3(text: str) -> bool:
    return text.lower().startswith(SCHEME)


def parse(text: str, endpoint: str | None) -> S3Source:
    """The bucket and key (or pattern) of an s3:// address."""
    rest = text[len(SCHEME) :]
    bucket, _, key = rest.partition("/")
    if not bucket or not key or key.endswith("/") or "@" in bucket:
        raise InputError(
            f"{text}: not an object address; expected s3://BUCKET/KEY or s3://BUCKET/PREFIX/*.parquet."
        )
    return S3Source(text, bucket, key, endpoint)


def _filesystem(source: S3Source):  # noqa: ANN202 - pyarrow.fs.S3FileSystem
    from pyarrow import fs

    kwargs: dict[str, object] = {"connect_timeout": 10, "request_timeout": 60}
    endpoint = source.endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"--s3-endpoint {endpoint}: expected an http:// or https:// address.")
        kwargs["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        kwargs["scheme"] = parts.scheme
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        kwargs["region"] = region
    elif not endpoint:
        try:
            kwargs["region"] = fs.resolve_s3_region(source.bucket)
        except OSError as exc:
            raise _error(source, exc) from exc
    else:
        kwargs["region"] = "us-east-1"  # S3-compatible stores mostly ignore it; the SDK wants one
    return fs.S3FileSystem(**kwargs)


def _error(source: S3Source, exc: Exception) -> InputError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = reason.lower()
    if "nosuchbucket" in low or "bucket" in low and ("not found" in low or "does not exist" in low):
        return InputError(
            f"{source.address}: the bucket '{source.bucket}' does not exist; expected an existing bucket."
        )
    if "accessdenied" in low or "access denied" in low or "forbidden" in low:
        what = "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
        return InputError(f"{source.address}: access denied ({reason.rstrip('.')}); {what}.")
    return InputError(
        f"{source.address}: cannot be read ({reason.rstrip('.')}); expected a reachable bucket."
    )


def _objects(filesystem, source: S3Source) -> list[tuple[str, int]]:  # noqa: ANN001
    """(key, size) of every object the address names, sorted by key."""
    from pyarrow import fs

    key = source.key
    try:
        if not any(ch in key for ch in _GLOB):
            info = filesystem.get_file_info(f"{source.bucket}/{key}")
            if info.type == fs.FileType.NotFound:
                # a missing bucket also reads as a missing object: tell them apart
                filesystem.get_file_info(fs.FileSelector(source.bucket, recursive=False))
                raise InputError(f"{source.address}: no such object; expected an existing key.")
            if info.type != fs.FileType.File:
                raise InputError(f"{source.address}: not an object (a prefix?); expected a key or a pattern.")
            return [(key, int(info.size or 0))]
        first = min(key.index(ch) for ch in _GLOB if ch in key)
        base = key[: key.rfind("/", 0, first) + 1]  # the folder above the first wildcard
        recursive = "/" in key[len(base) :]
        selector = fs.FileSelector(f"{source.bucket}/{base}".rstrip("/"), recursive=recursive)
        infos = filesystem.get_file_info(selector)
    except OSError as exc:
        raise _error(source, exc) from exc
    found = []
    for info in infos:
        name = info.path[len(source.bucket) + 1 :]
        if info.type == fs.FileType.File and fnmatch.fnmatchcase(name, key):
            if recursive or "/" not in name[len(base) :]:
                found.append((name, int(info.size or 0)))
    if not found:
        raise InputError(f"{source.address}: no object matches; expected at least one matching key.")
    return sorted(found)


def suffix_of(label: str) -> str:
    """The known file suffix of an object ('.parquet', '.csv.gz', ...); an error names the kinds read."""
    name = label.rsplit("/", 1)[-1].lower()
    for sfx in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(sfx):
            return sfx
    raise InputError(
        f"{label}: unsupported file type; use .csv, .tsv, .txt (each also as .gz), .parquet or .xlsx."
    )


def download(source: S3Source, target_dir: Path) -> Iterator[tuple[str, Path]]:
    """Each object the address names (all listed first), streamed to a file in target_dir, one at a time;
    yields its s3:// address and the copy."""
    filesystem = _filesystem(source)
    for n, (key, _size) in enumerate(_objects(filesystem, source)):
        label = f"{SCHEME}{source.bucket}/{key}"
        target = target_dir / f"object-{n}{suffix_of(label)}"
        with open(target, "wb") as dst:  # a full disk is the run's own error (faults.describe)
            try:
                src = filesystem.open_input_stream(f"{source.bucket}/{key}")
            except OSError as exc:
                raise _error(S3Source(label, source.bucket, key, source.endpoint), exc) from exc
            with src:
                while True:
                    try:
                        chunk = src.read(_COPY_CHUNK)
                    except OSError as exc:
                        raise _error(S3Source(label, source.bucket, key, source.endpoint), exc) from exc
                    if not chunk:
                        break
                    dst.write(chunk)
        yield label, target
