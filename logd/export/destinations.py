"""Where exported objects go: a local directory laid out like S3 keys, or any S3 API.

Both promise that an object appears under its final key only whole: the local one
writes a hidden temp file beside it, fsyncs and renames; S3 shows an object only when
its PUT or multipart completion succeeds (a failed multipart upload is aborted).
Calls block: the export runs them in its worker threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from logd.durable import fsync_dir
from logd.errors import InvalidParameterException
from logd.export.errors import DestinationError
from logd.export.layout import WRITE_TEST_BODY, WRITE_TEST_KEY, validate_bucket
from logd.export.options import BucketOptions, ExportOptions

NO_BUCKET = "The given bucket does not exist. Please make sure the bucket is valid."
CONTENT_TYPE = "application/x-gzip"
PARTIAL_SUFFIX = ".logd-partial"


class Destination(Protocol):
    """One bucket. Keys are `/`-separated and never start with `/`."""

    bucket: str

    def check(self) -> None:
        """The bucket exists (else InvalidParameterException) and takes the write test."""

    def put(self, key: str, body: bytes, *, sha256: str, content_type: str) -> None:
        """Store `body` under `key`, atomically; replaces an older object."""

    def size(self, key: str) -> int | None:
        """Bytes of the object, or None when absent."""

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted (partial writes never show)."""

    def discard_partials(self, prefix: str) -> None:
        """Remove leftovers of writes a crash interrupted under `prefix`."""

    def close(self) -> None: ...


class LocalDestination:
    """`<root>/<bucket>/<key>`; every path is checked to stay inside the bucket folder."""

    def __init__(self, bucket: str, root: Path, *, create: bool = True) -> None:
        self.bucket = bucket
        self.root = root.resolve()
        self.folder = self.root / bucket
        self._create = create

    def _path(self, key: str) -> Path:
        path = (self.folder / key).resolve()
        if key.startswith("/") or not path.is_relative_to(self.folder.resolve()):
            raise InvalidParameterException(f"Key {key!r} would leave the export root.")
        return path

    def check(self) -> None:
        if not self.folder.resolve().is_relative_to(self.root):
            raise InvalidParameterException(NO_BUCKET)
        if not self.folder.is_dir():
            if not self._create:
                raise InvalidParameterException(NO_BUCKET)
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DestinationError(f"cannot create {self.folder}: {exc}") from exc
        self.put(WRITE_TEST_KEY, WRITE_TEST_BODY, sha256="", content_type="text/plain")

    def put(self, key: str, body: bytes, *, sha256: str, content_type: str) -> None:
        path = self._path(key)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
            fsync_dir(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise DestinationError(f"cannot write {path}: {exc}") from exc

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise DestinationError(f"cannot read {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def _walk(self, prefix: str) -> Iterator[tuple[Path, str]]:
        base = self.folder.resolve()
        start = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else base
        if not start.is_dir():
            return
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                path = Path(dirpath) / name
                yield path, path.relative_to(base).as_posix()

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(
            key
            for path, key in self._walk(prefix)
            if key.startswith(prefix) and not path.name.endswith(PARTIAL_SUFFIX)
        )

    def discard_partials(self, prefix: str) -> None:
        for path, key in self._walk(prefix):
            if key.startswith(prefix) and path.name.endswith(PARTIAL_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def close(self) -> None:
        pass


class S3Destination:
    """Any S3 API server through boto3 (one client, shared by threads; boto3 clients are
    thread-safe). Path-style addressing and checksums only when required, so MinIO, Ceph
    and other S3-compatible servers accept the requests."""

    def __init__(
        self, bucket: str, options: BucketOptions, *, threshold: int, part_bytes: int
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self._remote = options.remote_bucket or bucket
        self._options = options
        self._threshold = threshold
        self._part_bytes = part_bytes
        secret = options.secret_access_key
        if options.secret_access_key_env:
            secret = os.environ.get(options.secret_access_key_env, "")
        credentials: dict[str, Any] = {}
        if options.access_key_id:
            credentials = {
                "aws_access_key_id": options.access_key_id,
                "aws_secret_access_key": secret,
                "aws_session_token": options.session_token or None,
            }
        config = Config(
            s3={"addressing_style": options.addressing_style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=32,
        )
        session = boto3.session.Session()
        self._client: Any = session.client(
            "s3",
            endpoint_url=options.endpoint_url or None,
            region_name=options.region,
            config=config,
            **credentials,
        )
        self._lock = threading.Lock()

    def _extra(self, sha256: str, content_type: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"ContentType": content_type}
        if sha256:
            extra["Metadata"] = {"logd-sha256": sha256}
        if self._options.acl:
            extra["ACL"] = self._options.acl
        if self._options.sse != "none":
            extra["ServerSideEncryption"] = self._options.sse
            if self._options.kms_key_id:
                extra["SSEKMSKeyId"] = self._options.kms_key_id
        return extra

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self._remote)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise InvalidParameterException(NO_BUCKET) from exc
            raise DestinationError(f"s3://{self._remote}: {exc}") from exc
        except BotoCoreError as exc:
            raise DestinationError(f"s3://{self._remote}: {exc}") from exc
        self.put(WRITE_TEST_KEY, WRITE_TEST_BODY, sha256="", content_type="text/plain")

    def put(self, key: str, body: bytes, *, sha256: str, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = self._extra(sha256, content_type)
        try:
            if len(body) <= self._threshold:
                self._client.put_object(Bucket=self._remote, Key=key, Body=body, **extra)
            else:
                self._multipart(key, body, extra)
        except (ClientError, BotoCoreError) as exc:
            raise DestinationError(f"s3://{self._remote}/{key}: {exc}") from exc

    def _multipart(self, key: str, body: bytes, extra: dict[str, Any]) -> None:
        upload = self._client.create_multipart_upload(Bucket=self._remote, Key=key, **extra)
        upload_id = upload["UploadId"]
        try:
            view = memoryview(body)
            parts = []
            for number, offset in enumerate(range(0, len(body), self._part_bytes), start=1):
                chunk = view[offset : offset + self._part_bytes]
                reply = self._client.upload_part(
                    Bucket=self._remote,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk.tobytes(),
                )
                parts.append({"ETag": reply["ETag"], "PartNumber": number})
            self._client.complete_multipart_upload(
                Bucket=self._remote,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self._client.abort_multipart_upload(
                    Bucket=self._remote, Key=key, UploadId=upload_id
                )
            raise

    def size(self, key: str) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self._client.head_object(Bucket=self._remote, Key=key)["ContentLength"])
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey"):
                return None
            raise DestinationError(f"s3://{self._remote}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise DestinationError(f"s3://{self._remote}/{key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.get_object(Bucket=self._remote, Key=key)
            body: bytes = reply["Body"].read()
            return body
        except (ClientError, BotoCoreError) as exc:
            raise DestinationError(f"s3://{self._remote}/{key}: {exc}") from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self._remote, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise DestinationError(f"s3://{self._remote}/{key}: {exc}") from exc

    def list_keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self._remote, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise DestinationError(f"s3://{self._remote}/{prefix}: {exc}") from exc
        return sorted(keys)

    def discard_partials(self, prefix: str) -> None:
        """Abort multipart uploads a crash left open under `prefix` (they hold storage)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.list_multipart_uploads(Bucket=self._remote, Prefix=prefix)
            for upload in reply.get("Uploads", []):
                self._client.abort_multipart_upload(
                    Bucket=self._remote, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        except (ClientError, BotoCoreError) as exc:
            raise DestinationError(f"s3://{self._remote}/{prefix}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._client.close()


class Destinations:
    """Resolves a `destination` bucket name through `[export.buckets]`, caching clients."""

    def __init__(self, options: ExportOptions) -> None:
        self._options = options
        self._cache: dict[str, Destination] = {}
        self._lock = threading.Lock()

    def get(self, bucket: str) -> Destination:
        validate_bucket(bucket)
        with self._lock:
            found = self._cache.get(bucket)
            if found is None:
                found = self._make(bucket)
                self._cache[bucket] = found
            return found

    def _make(self, bucket: str) -> Destination:
        configured = self._options.buckets.get(bucket)
        if configured is None:
            if not self._options.default_root:
                raise InvalidParameterException(NO_BUCKET)
            return LocalDestination(bucket, Path(self._options.default_root))
        if configured.type == "dir":
            return LocalDestination(bucket, Path(configured.root), create=configured.create)
        return S3Destination(
            bucket,
            configured,
            threshold=self._options.multipart_threshold_bytes,
            part_bytes=self._options.multipart_part_bytes,
        )

    def close(self) -> None:
        with self._lock:
            for destination in self._cache.values():
                destination.close()
            self._cache.clear()
