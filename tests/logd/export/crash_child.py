"""A child process running an export, for the crash test (R-22). The test SIGKILLs it.

    python -m tests.logd.export.crash_child --db D --root R [--endpoint URL --bucket B]
        --mode create|resume --events N --seed S --max-attempts K

Prints `STARTED` once the service runs; `create` then makes a task and prints
`TASK <id>`; both modes then run the service until
the task finishes and print `DONE <code> <message>`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from logd.clock import SystemClock
from logd.export.destinations import Destinations
from logd.export.options import BucketOptions, ExportOptions
from logd.export.taskdb import TaskDb
from logd.export.tasks import ExportService
from tests.logd.export.helpers import BASE_MS, TableReader, make_events

GROUP = "/app/web"
MAX_OBJECT_BYTES = 16 * 1024


def options_for(*, root: str, endpoint: str, bucket: str, max_attempts: int) -> ExportOptions:
    buckets = {}
    if endpoint:
        buckets[bucket] = BucketOptions(
            type="s3",
            endpoint_url=endpoint,
            access_key_id="testing",
            secret_access_key="testing",
        )
    return ExportOptions(
        default_root=root,
        buckets=buckets,
        max_object_bytes=MAX_OBJECT_BYTES,
        compression_threads=2,
        upload_threads=2,
        max_attempts=max_attempts,
    )


async def main(args: argparse.Namespace) -> int:
    options = options_for(
        root=args.root, endpoint=args.endpoint, bucket=args.bucket, max_attempts=args.max_attempts
    )
    db = TaskDb(Path(args.db))
    service = ExportService(
        options=options,
        tasks=db,
        reader=TableReader(make_events(args.events, seed=args.seed)),
        destinations=Destinations(options),
        clock=SystemClock(),
        group_exists=lambda name: name == GROUP,
    )
    try:
        await service.start()
        print("STARTED", flush=True)
        if args.mode == "create":
            task_id = await service.create_export_task(
                log_group_name=GROUP,
                from_ms=BASE_MS,
                to_ms=BASE_MS + 3_600_000,
                destination=args.bucket,
            )
            print("TASK", task_id, flush=True)
        else:
            (task,), _ = await service.describe_export_tasks(limit=1)
            task_id = task.task_id
        done = await service.wait(task_id)
        print("DONE", done.code, done.message, flush=True)
    finally:
        await service.close()
        db.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--bucket", default="crash")
    parser.add_argument("--mode", choices=["create", "resume"], required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-attempts", type=int, default=10)
    sys.exit(asyncio.run(main(parser.parse_args())))
