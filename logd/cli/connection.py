"""How client subcommands reach a daemon: endpoint and credentials from flags, env, config.

Endpoint: ``--endpoint`` (or ``--endpoint-url``, as the AWS CLI spells it), else
``LOGD_ENDPOINT``, else ``http://<api.listen>`` of
``--config``, else ``http://127.0.0.1:4586``. Credentials: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``); none means unsigned requests (a
daemon with ``auth = "none"``). Region: ``--region``, ``AWS_REGION``,
``AWS_DEFAULT_REGION``, ``us-east-1``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from logd.client import Client, Credentials


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        "--endpoint-url",
        dest="endpoint",
        help="API URL (default: $LOGD_ENDPOINT or the config)",
    )
    parser.add_argument("--config", type=Path, help="take the endpoint from this config file")
    parser.add_argument("--region", help="SigV4 region (default: $AWS_REGION or us-east-1)")
    parser.add_argument("--output", "-o", choices=("table", "json", "jsonl", "csv", "raw"))


def connect(args: argparse.Namespace) -> Client:
    env = os.environ
    endpoint = args.endpoint or env.get("LOGD_ENDPOINT")
    if endpoint is None and args.config is not None:
        from logd import settings

        endpoint = "http://" + settings.load(args.config, env=env).api.listen
    credentials = None
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        credentials = Credentials(
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
        )
    region = args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Client(endpoint or "http://127.0.0.1:4586", credentials=credentials, region=region)
