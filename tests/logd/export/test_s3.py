"""Exports to a real S3 API (moto's server in a child process)."""

from __future__ import annotations

import base64
import hashlib
import random

import pyarrow as pa
import pytest

from logd.errors import InvalidParameterException
from logd.export import layout
from logd.export.options import BucketOptions
from logd.export.verify import verify
from tests.logd.export.conftest import GROUP
from tests.logd.export.helpers import (
    BASE_MS,
    SCHEMA,
    TableReader,
    expected_objects,
    gunzip,
    make_events,
)
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, MotoS3


def _bucket_options(moto_s3: MotoS3) -> BucketOptions:
    return BucketOptions(
        type="s3",
        endpoint_url=moto_s3.endpoint_url,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


def _objects(client, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = [
        o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    ]
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


async def test_s3_export_layout_bytes_and_verify(make_service, moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    table = make_events(2500, seed=11)
    service = await make_service(
        TableReader(table), buckets={bucket: _bucket_options(moto_s3)}, max_object_bytes=8192
    )
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=BASE_MS, to_ms=BASE_MS + 3_600_000, destination=bucket
    )
    done = await service.wait(task_id)
    assert done.code == "COMPLETED", done.message
    client = moto_s3.client()
    try:
        test_object = client.get_object(Bucket=bucket, Key="aws-logs-write-test")
        assert test_object["Body"].read() == b"Permission Check Successful"
        stored = _objects(client, bucket, f"exportedlogs/{task_id}/")
        expected = expected_objects(
            table, start=BASE_MS, end_inclusive=BASE_MS + 3_600_000, max_object_bytes=8192
        )
        keys = {
            layout.object_key("exportedlogs", task_id, s, p, "keep"): text
            for (s, p), text in expected.items()
        }
        assert sorted(stored) == sorted(keys)
        for key, text in keys.items():
            assert gunzip(stored[key]) == text
        head = client.head_object(Bucket=bucket, Key=next(iter(keys)))
        assert head["ContentType"] == "application/x-gzip"
        body = stored[next(iter(keys))]
        assert head["Metadata"]["logd-sha256"] == hashlib.sha256(body).hexdigest()

        destination = service._destinations.get(bucket)
        assert verify(destination, f"exportedlogs/{task_id}").ok
        # One changed byte is found.
        victim = sorted(keys)[3]
        changed = bytearray(stored[victim])
        changed[len(changed) // 2] ^= 0x01
        client.put_object(Bucket=bucket, Key=victim, Body=bytes(changed))
        report = verify(destination, f"exportedlogs/{task_id}")
        assert [(f.kind, f.key) for f in report.errors] == [("MODIFIED", victim)]
    finally:
        client.close()


async def test_s3_multipart_for_large_objects(make_service, moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    rng = random.Random(5)
    n = 6000
    messages = [base64.b64encode(rng.randbytes(1500)).decode() for _ in range(n)]
    table = pa.table(
        {
            "group": [GROUP] * n,
            "stream": ["big"] * n,
            "timestamp": [BASE_MS + i for i in range(n)],
            "ingestion_time": [BASE_MS] * n,
            "seq": list(range(1, n + 1)),
            "message": messages,
        },
        schema=SCHEMA,
    )
    service = await make_service(
        TableReader(table),
        buckets={bucket: _bucket_options(moto_s3)},
        multipart_threshold_bytes=1024 * 1024,
        multipart_part_bytes=5 * 1024 * 1024,
    )
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=BASE_MS, to_ms=BASE_MS + n, destination=bucket
    )
    assert (await service.wait(task_id)).code == "COMPLETED"
    client = moto_s3.client()
    try:
        key = f"exportedlogs/{task_id}/big/000000.gz"
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] > 5 * 1024 * 1024
        assert head["ETag"].strip('"').endswith("-2")  # two multipart parts
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        (text,) = expected_objects(table, start=BASE_MS, end_inclusive=BASE_MS + n).values()
        assert gunzip(body) == text
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    finally:
        client.close()


async def test_s3_missing_bucket_is_invalid_parameter(make_service, moto_s3: MotoS3) -> None:
    service = await make_service(
        TableReader(make_events(10)), buckets={"not-there": _bucket_options(moto_s3)}
    )
    with pytest.raises(InvalidParameterException, match="bucket does not exist"):
        await service.create_export_task(
            log_group_name=GROUP, from_ms=0, to_ms=1, destination="not-there"
        )
