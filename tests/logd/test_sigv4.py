"""logd.sigv4 against botocore's own signer: the same canonical request, the same signature."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from logd import sigv4

ACCESS, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BODY = b'{"logGroupName": "app/web", "limit": 5}'
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
}


def botocore_signed(body: bytes = BODY, url: str = "http://127.0.0.1:4586/") -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(HEADERS))
    SigV4Auth(Credentials(ACCESS, SECRET), "logs", "eu-west-1").add_auth(request)
    return request


def parts(request: AWSRequest) -> dict[str, object]:
    headers = [(k, str(v)) for k, v in request.headers.items()]
    headers.append(("Host", "127.0.0.1:4586"))
    return {"method": "POST", "path": "/", "query": "", "headers": headers}


def now_of(request: AWSRequest) -> int:
    return sigv4.parse_amz_date(str(request.headers["X-Amz-Date"]))


def test_verifies_a_botocore_signature() -> None:
    request = botocore_signed()
    auth = sigv4.parse_authorization(str(request.headers["Authorization"]))
    assert (auth.access_key, auth.region, auth.service) == (ACCESS, "eu-west-1", "logs")
    sigv4.verify(auth, **parts(request), body=BODY, secret=SECRET, now_ms=now_of(request))  # type: ignore[arg-type]


def test_sign_produces_botocore_s_signature() -> None:
    request = botocore_signed()
    now = now_of(request)
    ours = sigv4.sign(
        method="POST", host="127.0.0.1:4586", path="/", query="", headers=HEADERS,
        body=BODY, access_key=ACCESS, secret=SECRET, region="eu-west-1", service="logs",
        now_ms=now,
    )  # fmt: skip
    theirs = str(request.headers["Authorization"])
    assert ours["Authorization"].split("Signature=")[1] == theirs.split("Signature=")[1]


def test_canonical_request_matches_botocore_with_query_and_spaces() -> None:
    url = "http://h:1/a%20b/c?b=2&a=1&a=0&z=x%2Fy"
    request = AWSRequest(method="GET", url=url, headers={"X-Odd": "  a   b  "})
    request.context["timestamp"] = "20240101T000000Z"
    request.headers["X-Amz-Date"] = "20240101T000000Z"
    signer = SigV4Auth(Credentials(ACCESS, SECRET), "logs", "us-east-1")
    expected = signer.canonical_request(request)
    headers = [("X-Odd", "  a   b  "), ("X-Amz-Date", "20240101T000000Z"), ("host", "h:1")]
    got = sigv4.canonical_request(
        "GET", "/a%20b/c", "b=2&a=1&a=0&z=x%2Fy", headers, ["host", "x-amz-date", "x-odd"],
        sigv4.EMPTY_SHA256,
    )  # fmt: skip
    assert got == expected


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"secret": "wrong"}, "mismatch"),
        ({"body": BODY + b" "}, "mismatch"),
        ({"now_shift": 6 * 60_000}, "expired"),
        ({"now_shift": -6 * 60_000}, "not_yet_current"),
    ],
)
def test_rejections(change: dict[str, object], kind: str) -> None:
    request = botocore_signed()
    auth = sigv4.parse_authorization(str(request.headers["Authorization"]))
    now = now_of(request) + int(change.get("now_shift", 0))  # type: ignore[call-overload]
    with pytest.raises(sigv4.SigV4Error) as info:
        sigv4.verify(
            auth, **parts(request),  # type: ignore[arg-type]
            body=change.get("body", BODY),  # type: ignore[arg-type]
            secret=change.get("secret", SECRET),  # type: ignore[arg-type]
            now_ms=now,
        )  # fmt: skip
    assert info.value.kind == kind


def test_skew_within_five_minutes_is_accepted() -> None:
    request = botocore_signed()
    auth = sigv4.parse_authorization(str(request.headers["Authorization"]))
    now = now_of(request) + 4 * 60_000
    sigv4.verify(auth, **parts(request), body=BODY, secret=SECRET, now_ms=now)  # type: ignore[arg-type]


def test_expired_message_has_aws_wording() -> None:
    with pytest.raises(sigv4.SigV4Error) as info:
        sigv4.check_skew("20240101T000000Z", sigv4.parse_amz_date("20240101T001000Z"))
    assert info.value.message == (
        "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z "
        "(20240101T001000Z - 5 min.)"
    )


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/logs/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AK/20240101, SignedHeaders=host, Signature=ab",
    ],
)
def test_malformed_authorization_is_incomplete(header: str) -> None:
    with pytest.raises(sigv4.SigV4Error) as info:
        sigv4.parse_authorization(header)
    assert info.value.kind == "incomplete"


def test_signing_key_matches_aws_documented_example() -> None:
    # AWS's published derivation example (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
    # 20120215, us-east-1, iam).
    key = sigv4.signing_key(SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
