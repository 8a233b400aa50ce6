"""S-01 and S-02: SigV4 and permissions against a real `logd serve` (auth = "sigv4"): wrong secret,
unknown key, clock skew past 5 minutes, tampered body, missing or malformed signature,
and a writer-only key that cannot delete groups (logs-api.md §1.3)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from logd import sigv4
from tests.logd.api.conftest import error_of, now_ms
from tests.support.daemon import Daemon

ADMIN = ("ADMINKEY", "admin-secret")
WRITER = ("WRITERKEY", "writer-secret")
CONFIG = """\
[api]
auth = "sigv4"

[[api.keys]]
access_key_id = "ADMINKEY"
secret_env = "LOGD_TEST_ADMIN_SECRET"

[[api.keys]]
access_key_id = "WRITERKEY"
secret_file = "{secret_file}"
actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:Describe*"]
resources = ["app/*"]
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("logd-sigv4")
    secret_file = folder / "writer.secret"
    secret_file.write_text(WRITER[1] + "\n")
    config = CONFIG.format(secret_file=secret_file)
    with Daemon(folder, config, env={"LOGD_TEST_ADMIN_SECRET": ADMIN[1]}) as running:
        yield running


def post(daemon: Daemon, operation: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST a raw request; (status, decoded JSON body)."""
    url = urlsplit(daemon.endpoint)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/",
            body=body,
            headers={
                "X-Amz-Target": f"Logs_20140328.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
                **headers,
            },
        )
        answer = connection.getresponse()
        assert answer.getheader("x-amzn-RequestId")
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def signed(
    daemon: Daemon, body: bytes, *, at_ms: int, key: tuple[str, str] = ADMIN
) -> dict[str, str]:
    host = urlsplit(daemon.endpoint).netloc
    return sigv4.sign(
        method="POST",
        host=host,
        path="/",
        query="",
        headers={
            "X-Amz-Target": "Logs_20140328.CreateLogGroup",
            "Content-Type": "application/x-amz-json-1.1",
        },
        body=body,
        access_key=key[0],
        secret=key[1],
        region="us-east-1",
        service="logs",
        now_ms=at_ms,
    )


def group_names(daemon: Daemon) -> list[str]:
    groups = daemon.client(ADMIN).describe_log_groups()["logGroups"]
    return [g["logGroupName"] for g in groups]


def test_signed_requests_with_the_right_secret_pass(daemon: Daemon) -> None:
    admin = daemon.client(ADMIN)
    admin.create_log_group(logGroupName="ok/admin")
    assert "ok/admin" in group_names(daemon)


def test_wrong_secret_and_unknown_key(daemon: Daemon) -> None:
    wrong = daemon.client((ADMIN[0], "not-the-secret"))
    with pytest.raises(wrong.exceptions.ClientError) as info:
        wrong.create_log_group(logGroupName="bad/secret")
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    code, message = error_of(daemon.client(("NOBODY", "x")).describe_log_groups)
    assert (code, message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert "bad/secret" not in group_names(daemon)


@pytest.mark.parametrize(
    ("skew_ms", "accepted", "message"),
    [
        (-6 * 60_000, False, "Signature expired"),
        (6 * 60_000, False, "Signature not yet current"),
        (-4 * 60_000, True, ""),
    ],
)
def test_clock_skew_past_five_minutes(
    daemon: Daemon, skew_ms: int, accepted: bool, message: str
) -> None:
    name = f"skew/{skew_ms}"
    body = json.dumps({"logGroupName": name}).encode()
    status, reply = post(
        daemon, "CreateLogGroup", body, signed(daemon, body, at_ms=now_ms() + skew_ms)
    )
    if accepted:
        assert (status, reply) == (200, {})
        assert name in group_names(daemon)
    else:
        assert (status, reply["__type"]) == (403, "InvalidSignatureException")
        assert reply["message"].startswith(message)
        assert name not in group_names(daemon)


def test_tampered_body_is_rejected(daemon: Daemon) -> None:
    good = b'{"logGroupName": "tamper/good"}'
    headers = signed(daemon, good, at_ms=now_ms())
    status, reply = post(daemon, "CreateLogGroup", b'{"logGroupName": "tamper/evil"}', headers)
    assert (status, reply["__type"]) == (403, "InvalidSignatureException")
    assert post(daemon, "CreateLogGroup", good, headers) == (200, {})
    names = group_names(daemon)
    assert "tamper/good" in names
    assert "tamper/evil" not in names


def test_missing_and_malformed_signatures(daemon: Daemon) -> None:
    status, reply = post(daemon, "DescribeLogGroups", b"{}", {})
    assert (status, reply["__type"]) == (403, "MissingAuthenticationTokenException")
    status, reply = post(
        daemon, "DescribeLogGroups", b"{}", {"Authorization": "AWS4-HMAC-SHA256 x"}
    )
    assert (status, reply["__type"]) == (403, "IncompleteSignatureException")


def test_writer_key_writes_but_cannot_delete_groups(daemon: Daemon) -> None:
    admin, writer = daemon.client(ADMIN), daemon.client(WRITER)
    admin.create_log_group(logGroupName="app/orders")
    writer.create_log_stream(logGroupName="app/orders", logStreamName="w")
    writer.put_log_events(
        logGroupName="app/orders",
        logStreamName="w",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}],
    )
    assert [
        s["logStreamName"]
        for s in writer.describe_log_streams(logGroupName="app/orders")["logStreams"]
    ] == ["w"]
    code, message = error_of(writer.delete_log_group, logGroupName="app/orders")
    assert code == "AccessDeniedException"
    assert "logs:DeleteLogGroup" in message
    code, _ = error_of(writer.get_log_events, logGroupName="app/orders", logStreamName="w")
    assert code == "AccessDeniedException"
    code, _ = error_of(writer.create_log_stream, logGroupName="sys/other", logStreamName="w")
    assert code == "AccessDeniedException"  # outside its resources
    assert "app/orders" in group_names(daemon)
    admin.delete_log_group(logGroupName="app/orders")
    assert "app/orders" not in group_names(daemon)


def test_writer_key_cannot_query_filter_or_tail(daemon: Daemon) -> None:
    """S-02: a writer-only key scoped to app/* cannot query, filter or live-tail, and
    cannot write to sys/*."""
    admin, writer = daemon.client(ADMIN), daemon.client(WRITER)
    tailer = daemon.client(WRITER, inject_host_prefix=False)  # no stream-<host> lookup
    admin.create_log_group(logGroupName="app/reads")
    admin.create_log_group(logGroupName="sys/core")
    admin.create_log_stream(logGroupName="sys/core", logStreamName="w")
    t = int(time.time() * 1000)
    denied = [
        (writer.start_query, {"logGroupName": "app/reads", "startTime": 0, "endTime": t // 1000,
                              "queryString": "fields @message"}),
        (writer.filter_log_events, {"logGroupName": "app/reads"}),
        (tailer.start_live_tail, {"logGroupIdentifiers": [
            "arn:aws:logs:us-east-1:123456789012:log-group:app/reads"]}),
        (writer.put_log_events, {"logGroupName": "sys/core", "logStreamName": "w",
                                 "logEvents": [{"timestamp": t, "message": "m"}]}),
    ]  # fmt: skip
    for call, kwargs in denied:
        code, _ = error_of(call, **kwargs)
        assert code == "AccessDeniedException", call
    assert admin.get_log_events(logGroupName="sys/core", logStreamName="w")["events"] == []
