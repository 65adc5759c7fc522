"""S3 and SQS behind the few operations the functions need, with typed errors.

Everything above this module works with bytes, keys and `StorageError`; nothing above it sees
a botocore exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

# S3's multipart rules: every part but the last at least 5 MiB, at most 10,000 parts.
MIN_PART_BYTES = 5 * 1024 * 1024
PART_BYTES = 8 * 1024 * 1024
_DOWNLOAD_BLOCK = 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class StorageError(Exception):
    """S3 or SQS failed (throttled, unreachable, denied); the operation may succeed later."""


class ObjectChangedError(StorageError):
    """The object is no longer the version a task was planned for."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted, as S3 returns it


class _NoSuchObjectError(StorageError):
    pass


class _PreconditionFailedError(StorageError):
    pass


@contextlib.contextmanager
def _translated(action: str, url: str) -> Iterator[None]:
    """botocore's errors as this module's: a missing object and a failed condition apart,
    since callers answer those; anything else a `StorageError`."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        kind = (
            _NoSuchObjectError
            if code in _MISSING
            else _PreconditionFailedError
            if code in _PRECONDITION
            else StorageError
        )
        raise kind(f"cannot {action} {url}: {error}") from None
    except BotoCoreError as error:
        raise StorageError(f"cannot {action} {url}: {error}") from None


@dataclass
class Bucket:
    client: Any
    name: str

    def _s3(self, action: str, key: str):
        return _translated(action, f"s3://{self.name}/{key}")

    def get_bytes(self, key: str) -> bytes | None:
        """The object's content, or None when there is no such object."""
        try:
            with self._s3("read", key):
                return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except _NoSuchObjectError:
            return None

    def get_json(self, key: str) -> Any | None:
        data = self.get_bytes(key)
        return None if data is None else json.loads(data)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        with self._s3("write", key):
            self.client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type)

    def create(self, key: str, data: bytes, content_type: str = "application/json") -> bool:
        """Writes the object only if none exists (S3 conditional write); False if one did."""
        try:
            with self._s3("create", key):
                self.client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
        except _PreconditionFailedError:
            return False
        return True

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with self._s3("inspect", key):
                response = self.client.head_object(Bucket=self.name, Key=key)
        except _NoSuchObjectError:
            return None
        return ObjectInfo(key, int(response["ContentLength"]), response["ETag"])

    def download(self, key: str, path: Path) -> str | None:
        """Streams the object into ``path``; its sha256, or None when there is no such object."""
        digest = hashlib.sha256()
        try:
            with self._s3("download", key), open(path, "wb") as target:
                body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
                while block := body.read(_DOWNLOAD_BLOCK):
                    digest.update(block)
                    target.write(block)
        except _NoSuchObjectError:
            return None
        return digest.hexdigest()

    def open_range(self, info: ObjectInfo, start: int, end: int) -> BinaryIO:
        """A stream of bytes ``[start, end)`` of exactly the version ``info`` describes."""
        if end <= start:
            return _EmptyStream()
        try:
            with self._s3("read", info.key):
                return self.client.get_object(
                    Bucket=self.name, Key=info.key, Range=f"bytes={start}-{end - 1}", IfMatch=info.etag
                )["Body"]
        except (_NoSuchObjectError, _PreconditionFailedError):
            raise ObjectChangedError(f"s3://{self.name}/{info.key} changed or vanished") from None

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with self._s3("list", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", ()))
        return keys

    def delete_keys(self, keys: Iterable[str]) -> None:
        pending = list(keys)
        for start in range(0, len(pending), 1000):
            batch = [{"Key": key} for key in pending[start : start + 1000]]
            with self._s3("delete", batch[0]["Key"]):
                self.client.delete_objects(Bucket=self.name, Delete={"Objects": batch, "Quiet": True})

    def writer(self, key: str, content_type: str = "application/x-ndjson") -> ObjectWriter:
        return ObjectWriter(self, key, content_type)


class _EmptyStream:
    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


@dataclass
class ObjectWriter:
    """Writes one object of any size with flat memory: one put, or a multipart upload of
    `PART_BYTES` parts once the content outgrows one part. Use it as a context manager: an
    exception aborts the upload, so no half object ever appears under ``key``."""

    bucket: Bucket
    key: str
    content_type: str
    bytes_written: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _upload_id: str | None = None
    _parts: list[dict[str, Any]] = field(default_factory=list)

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self._finish()
        else:
            self._abort()

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._flush_part()

    def copy_from(self, source: ObjectInfo) -> None:
        """Appends another object of the same bucket: copied inside S3 when it can be a part of
        its own (at least 5 MiB and nothing buffered), streamed through otherwise."""
        if not self._buffer and source.size >= MIN_PART_BYTES:
            self._call("copy into", self._start_upload)
            response = self._call(
                "copy into",
                self.bucket.client.upload_part_copy,
                Bucket=self.bucket.name, Key=self.key, UploadId=self._upload_id,
                PartNumber=len(self._parts) + 1,
                CopySource={"Bucket": self.bucket.name, "Key": source.key}, CopySourceIfMatch=source.etag,
            )  # fmt: skip
            self._parts.append({"PartNumber": len(self._parts) + 1, "ETag": response["CopyPartResult"]["ETag"]})
            self.bytes_written += source.size
            return
        stream = self.bucket.open_range(source, 0, source.size)
        while block := stream.read(_DOWNLOAD_BLOCK):
            self.write(block)

    def _call(self, action: str, method, **kwargs):
        with self.bucket._s3(action, self.key):
            return method(**kwargs)

    def _start_upload(self) -> None:
        if self._upload_id is None:
            response = self.bucket.client.create_multipart_upload(
                Bucket=self.bucket.name, Key=self.key, ContentType=self.content_type
            )
            self._upload_id = response["UploadId"]

    def _flush_part(self) -> None:
        self._call("write", self._start_upload)
        number = len(self._parts) + 1
        response = self._call(
            "write",
            self.bucket.client.upload_part,
            Bucket=self.bucket.name, Key=self.key, UploadId=self._upload_id, PartNumber=number,
            Body=bytes(self._buffer),
        )  # fmt: skip
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer.clear()

    def _finish(self) -> None:
        if self._upload_id is None:
            self.bucket.put_bytes(self.key, bytes(self._buffer), self.content_type)
            self._buffer.clear()
            return
        if self._buffer:
            self._flush_part()
        self._call(
            "complete",
            self.bucket.client.complete_multipart_upload,
            Bucket=self.bucket.name, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts},
        )  # fmt: skip

    def _abort(self) -> None:
        if self._upload_id is None:
            return
        # a failed abort is left to the bucket's lifecycle rule: the error that led here is what matters
        with contextlib.suppress(ClientError, BotoCoreError):
            self.bucket.client.abort_multipart_upload(Bucket=self.bucket.name, Key=self.key, UploadId=self._upload_id)


@dataclass
class Queue:
    client: Any
    url: str

    def send(self, body: dict[str, Any]) -> None:
        with _translated("send to", self.url):
            self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body))

    def send_all(self, bodies: Iterable[dict[str, Any]]) -> None:
        """Sends in batches of ten (SQS's limit); raises if any message was not accepted."""
        for batch in _batches(list(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(batch)]
            with _translated("send to", self.url):
                response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if response.get("Failed"):
                raise StorageError(f"{len(response['Failed'])} messages were not accepted by {self.url}")


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
