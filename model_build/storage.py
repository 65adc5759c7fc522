"""Where bundles live: a local folder or an S3 prefix, behind one small interface.

``open_location("out/models")`` and ``open_location("s3://bucket/models")`` give the same
operations, so training publishes (and tests read back) the same layout in both places. The S3
client is plain boto3, which honours ``AWS_ENDPOINT_URL`` (moto, the local cloud).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class StorageError(Exception):
    """A location cannot be read or written."""


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
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as error:
            raise StorageError(f"cannot read s3://{self.bucket}/{self._key(key)}: {error}") from None


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
