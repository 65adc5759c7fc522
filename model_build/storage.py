"""Where bundles live: a local folder or an S3 prefix, behind one small interface.

``open_location("out/models")`` and ``open_location("s3://bucket/models")`` give the same
operations, so training publishes (and tests read back) the same layout in both places. The S3
client is plain boto3, which honours ``AWS_ENDPOINT_URL`` (moto, the local cloud).

A conditional write (`Location.put_if_unchanged`) replaces an object only if it is still the
one read with `Location.get_tagged`: on S3 a PutObject with ``IfMatch`` (its ETag) or
``IfNoneMatch: *`` (it was absent); in a folder a compare-and-swap under an exclusive ``flock``
on a lock file beside it, the tag being the content's sha256.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class StorageError(Exception):
    """A location cannot be read or written."""


_CHANGED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey"}


@dataclass(frozen=True)
class Tagged:
    """An object's content and the tag a conditional write compares (an ETag, a sha256)."""

    data: bytes
    tag: str


class Location(Protocol):
    url: str

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's content, or None when there is no such object."""
        ...

    def check_writable(self) -> None:
        """Raises `StorageError` early when the location cannot hold a bundle."""
        ...

    def get_tagged(self, key: str) -> Tagged | None:
        """The object's content and tag, or None when there is no such object."""
        ...

    def put_if_unchanged(self, key: str, data: bytes, tag: str | None) -> bool:
        """Writes ``data`` only if the object still has ``tag`` (None: only if there is none);
        False, writing nothing, when it changed since it was read."""
        ...

    def folders(self) -> list[str]:
        """The names of the folders directly under the location (the versions), sorted."""
        ...


@dataclass
class LocalLocation:
    root: Path

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as source:
            self._write(key, lambda tmp: shutil.copyfileobj(source, tmp))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda tmp: tmp.write(data))

    def _write(self, key: str, fill) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a reader sees the old object or the new one, never half of it
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as tmp:
            fill(tmp)
        os.replace(tmp.name, target)

    def check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create {self.root}: {error.strerror or error}") from None
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"cannot read {self._path(key)}: {error.strerror or error}") from None

    def get_tagged(self, key: str) -> Tagged | None:
        data = self.get_bytes(key)
        return None if data is None else Tagged(data, hashlib.sha256(data).hexdigest())

    def put_if_unchanged(self, key: str, data: bytes, tag: str | None) -> bool:
        with self._locked(key):
            now = self.get_tagged(key)
            if (None if now is None else now.tag) != tag:
                return False
            self.put_bytes(key, data)
        return True

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        # flock, not a lock file that exists or not: the kernel releases it when its holder dies
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(target.parent / f".{target.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StorageError(f"cannot lock {target}: {error.strerror or error}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def folders(self) -> list[str]:
        try:
            return sorted(path.name for path in self.root.iterdir() if path.is_dir() and not path.name.startswith("."))
        except FileNotFoundError:
            raise StorageError(f"{self.root} does not exist") from None
        except OSError as error:
            raise StorageError(f"cannot list {self.root}: {error.strerror or error}") from None


@dataclass
class S3Location:
    bucket: str
    prefix: str  # "" or ending with "/"
    client: object

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key))
        except Exception as error:  # boto3 raises several unrelated families
            raise StorageError(f"cannot upload to s3://{self.bucket}/{self._key(key)}: {error}") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as error:
            raise StorageError(f"cannot write s3://{self.bucket}/{self._key(key)}: {error}") from None

    def check_writable(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise StorageError(f"cannot use s3://{self.bucket}: {error}") from None

    def get_bytes(self, key: str) -> bytes | None:
        tagged = self.get_tagged(key)
        return None if tagged is None else tagged.data

    def get_tagged(self, key: str) -> Tagged | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return Tagged(response["Body"].read(), response["ETag"])
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as error:
            raise StorageError(f"cannot read s3://{self.bucket}/{self._key(key)}: {error}") from None

    def put_if_unchanged(self, key: str, data: bytes, tag: str | None) -> bool:
        condition = {"IfNoneMatch": "*"} if tag is None else {"IfMatch": tag}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **condition)
        except Exception as error:
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            # 412: not the object read; 409: a concurrent conditional write; NoSuchKey: deleted since
            if code in _CHANGED:
                return False
            raise StorageError(f"cannot write s3://{self.bucket}/{self._key(key)}: {error}") from None
        return True

    def folders(self) -> list[str]:
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                folders = page.get("CommonPrefixes", ())
                names.extend(entry["Prefix"][len(self.prefix) :].rstrip("/") for entry in folders)
        except Exception as error:
            raise StorageError(f"cannot list {self.url}: {error}") from None
        return sorted(names)


def check_url(url: str) -> None:
    """Raises `StorageError` unless ``url`` is a local folder path or ``s3://bucket/prefix`` (no I/O)."""
    if url.startswith("s3://"):
        if not urlparse(url).netloc:
            raise StorageError(f"{url} names no bucket (expected s3://bucket/prefix)")
    elif "://" in url:
        raise StorageError(f"unsupported location {url} (expected a folder or s3://bucket/prefix)")


def open_location(url: str, s3_client=None) -> Location:
    """A local folder path or ``s3://bucket/prefix``."""
    check_url(url)
    if url.startswith("s3://"):
        parsed = urlparse(url)
        prefix = parsed.path.strip("/")
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3Location(parsed.netloc, f"{prefix}/" if prefix else "", s3_client)
    return LocalLocation(Path(url))
