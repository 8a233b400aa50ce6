"""Options of export tasks: the `[export]` table and its `[export.buckets.<name>]` targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

MIB = 1024 * 1024

#: S3 refuses multipart parts below 5 MiB (all but the last).
S3_MIN_PART_BYTES = 5 * MIB


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketOptions:
    """One `[export.buckets.<name>]` table: where a `destination` bucket name leads."""

    type: Literal["dir", "s3"] = "dir"
    """`dir`: objects are files under `<root>/<name>/`; `s3`: any S3 API endpoint."""

    root: str = ""
    """dir: the export root; the bucket is the folder `<root>/<name>`."""

    create: bool = True
    """dir: create `<root>/<name>` when absent (else the bucket must exist)."""

    endpoint_url: str = ""
    """s3: the endpoint, e.g. `http://127.0.0.1:9000`; empty means AWS."""

    region: str = "us-east-1"
    """s3: signing region."""

    remote_bucket: str = ""
    """s3: the bucket's name on the server, when it differs from the logd name."""

    access_key_id: str = ""
    """s3: access key id; empty uses boto3's usual credential chain."""

    secret_access_key: str = ""
    """s3: secret key (prefer `secret_access_key_env`)."""

    secret_access_key_env: str = ""
    """s3: name of an environment variable holding the secret key."""

    session_token: str = ""
    """s3: optional session token."""

    addressing_style: Literal["path", "virtual", "auto"] = "path"
    """s3: path-style works with every S3-compatible server."""

    acl: str = ""
    """s3: canned ACL put on each object, e.g. `bucket-owner-full-control`."""

    sse: Literal["none", "AES256", "aws:kms"] = "none"
    """s3: server-side encryption asked for each object; `none` keeps the bucket default."""

    kms_key_id: str = ""
    """s3: the KMS key with `sse = "aws:kms"`."""

    def validate(self, name: str) -> None:
        if self.type == "dir" and not self.root:
            raise ValueError(f"export.buckets.{name}.root: a dir bucket needs a root")
        if self.type == "s3" and (self.root or not self.create):
            raise ValueError(f"export.buckets.{name}: root/create apply to dir buckets only")
        if self.kms_key_id and self.sse != "aws:kms":
            raise ValueError(f"export.buckets.{name}.kms_key_id needs sse = 'aws:kms'")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """The `[export]` table."""

    max_active_tasks: int = 1
    """Tasks PENDING or RUNNING at once; CloudWatch allows 1 per account."""

    default_root: str = ""
    """Export root for bucket names not in `buckets` (embedded default); empty: refuse them."""

    buckets: Mapping[str, BucketOptions] = field(default_factory=dict)
    """Configured destination buckets by name."""

    default_prefix: str = "exportedlogs"
    """`destinationPrefix` when the request has none."""

    stream_name_slash: Literal["keep", "dash"] = "keep"
    """A `/` in a stream name: a key level (`keep`) or `-` (moto's choice)."""

    max_object_bytes: int = 64 * MIB
    """Uncompressed bytes per object; the next part (`000001.gz`) starts past it."""

    multipart_threshold_bytes: int = 16 * MIB
    """S3: compressed objects above this go up as multipart uploads."""

    multipart_part_bytes: int = 16 * MIB
    """S3: size of each multipart part (at least 5 MiB)."""

    compression_level: int = 6
    """gzip level, 1 (fast) to 9 (small)."""

    compression_threads: int = 0
    """Threads compressing gzip members in parallel; 0 means one per CPU."""

    compression_chunk_bytes: int = 4 * MIB
    """Most text bytes per gzip member, cut at events (members compress in parallel)."""

    scan_chunk_events: int = 250_000
    """Events read and sorted at once; bounds the memory of a task (smaller units also
    start compression sooner and reuse their buffers)."""

    inflight_bytes: int = 256 * MIB
    """Uncompressed bytes of objects being compressed or uploaded at once."""

    upload_threads: int = 4
    """Objects written to the destination concurrently."""

    resume_interrupted: bool = True
    """A task RUNNING when logd stopped resumes at start (else it ends FAILED)."""

    max_attempts: int = 3
    """Runs a task gets (first run plus resumes) before it ends FAILED."""

    task_retention_days: int = 30
    """Finished tasks are forgotten this long after completion."""

    progress_interval_objects: int = 1
    """Objects between progress updates of a RUNNING task's status message."""

    def validate(self) -> None:
        if self.max_active_tasks < 1:
            raise ValueError("export.max_active_tasks must be at least 1")
        if not 1 <= self.compression_level <= 9:
            raise ValueError("export.compression_level must be 1..9")
        if self.max_object_bytes < 1024:
            raise ValueError("export.max_object_bytes must be at least 1024")
        if self.multipart_part_bytes < S3_MIN_PART_BYTES:
            raise ValueError("export.multipart_part_bytes must be at least 5 MiB (S3's minimum)")
        if self.multipart_threshold_bytes < 1:
            raise ValueError("export.multipart_threshold_bytes must be positive")
        if self.compression_chunk_bytes < 64 * 1024:
            raise ValueError("export.compression_chunk_bytes must be at least 64 KiB")
        if self.compression_threads < 0 or self.upload_threads < 1:
            raise ValueError("export.compression_threads >= 0 and upload_threads >= 1")
        if self.scan_chunk_events < 1 or self.inflight_bytes < 1:
            raise ValueError("export.scan_chunk_events and inflight_bytes must be positive")
        if self.max_attempts < 1 or self.task_retention_days < 1:
            raise ValueError("export.max_attempts and task_retention_days must be positive")
        for name, bucket in self.buckets.items():
            bucket.validate(name)
