"""Who is calling and what they may do: SigV4 verification and per-key permissions.

``auth = "sigv4"``: every request must carry a valid ``Authorization`` header signed
with a configured access key (``logd.sigv4`` does the arithmetic). A key's policy is a
set of allowed actions (``logs:PutLogEvents``, ``logs:Describe*``, ``logs:*``) crossed
with log-group name globs. ``auth = "none"`` (loopback binds only) lets every request
through as the anonymous principal, which may do everything.

Secrets are read from the environment variable or file the options name; they are held
in `Credential` objects whose repr hides them, and never logged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logd import errors, sigv4
from logd.api.options import AccessKeyOptions


@dataclass(frozen=True, slots=True)
class Policy:
    """Allowed actions crossed with log-group globs of one access key."""

    actions: tuple[str, ...] = ("logs:*",)
    resources: tuple[str, ...] = ("*",)

    def allows(self, action: str, group: str | None) -> bool:
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in self.actions):
            return False
        if group is None:
            return True
        return any(fnmatch.fnmatchcase(group, pattern) for pattern in self.resources)


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    secret: str = field(repr=False)
    policy: Policy


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    access_key_id: str | None  # None: anonymous (auth = "none")
    region: str | None  # from the SigV4 credential scope
    policy: Policy


ANONYMOUS = Principal(None, None, Policy())


def _read_first_line(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").splitlines()[0].strip()


def resolve_secrets(
    keys: Iterable[AccessKeyOptions],
    env: Mapping[str, str],
    read: Callable[[str], str] = _read_first_line,
) -> tuple[dict[str, Credential], list[tuple[str, str]]]:
    """Credentials by access key id, and (key path, problem) for each unreadable secret."""
    found: dict[str, Credential] = {}
    missing: list[tuple[str, str]] = []
    for index, key in enumerate(keys):
        where = f"api.keys[{index}]"
        secret = ""
        if key.secret_env:
            secret = env.get(key.secret_env, "")
            if not secret:
                missing.append(
                    (f"{where}.secret_env", f"environment variable {key.secret_env} is not set")
                )
        elif key.secret_file:
            try:
                secret = read(key.secret_file)
            except (OSError, IndexError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "file is empty"
                missing.append((f"{where}.secret_file", f"cannot read {key.secret_file}: {reason}"))
        if secret:
            found[key.access_key_id] = Credential(
                key.access_key_id, secret, Policy(key.actions, key.resources)
            )
    return found, missing


class Authenticator:
    """Turns a request's headers into a `Principal`, or raises the wire error."""

    def __init__(
        self,
        mode: str,
        credentials: Mapping[str, Credential],
        *,
        max_skew_ms: int = sigv4.MAX_SKEW_MS,
    ) -> None:
        self.mode = mode
        self.credentials = dict(credentials)
        self.max_skew_ms = max_skew_ms

    def authenticate(
        self,
        *,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        now_ms: int,
    ) -> Principal:
        header = next((v for k, v in headers if k.lower() == "authorization"), None)
        if self.mode == "none":
            if header is None:
                return ANONYMOUS
            try:
                region = sigv4.parse_authorization(header).region
            except sigv4.SigV4Error:
                region = None
            return Principal(None, region, ANONYMOUS.policy)
        if header is None:
            raise errors.MissingAuthenticationTokenException("Missing Authentication Token")
        try:
            auth = sigv4.parse_authorization(header)
        except sigv4.SigV4Error as exc:
            raise errors.IncompleteSignatureException(exc.message) from exc
        credential = self.credentials.get(auth.access_key)
        if credential is None:
            raise errors.UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        try:
            sigv4.verify(
                auth,
                method=method,
                path=raw_path,
                query=query,
                headers=headers,
                body=body,
                secret=credential.secret,
                now_ms=now_ms,
                max_skew_ms=self.max_skew_ms,
            )
        except sigv4.SigV4Error as exc:
            if exc.kind == "incomplete":
                raise errors.IncompleteSignatureException(exc.message) from exc
            raise errors.InvalidSignatureException(exc.message) from exc
        return Principal(auth.access_key, auth.region, credential.policy)


def authorize(
    principal: Principal, operation: str, groups: Sequence[str], arn_of: Callable[[str], str]
) -> None:
    """AccessDeniedException unless `principal` may run `operation` on every group named."""
    action = f"logs:{operation}"
    targets: Sequence[str | None] = list(groups) or [None]
    for group in targets:
        if not principal.policy.allows(action, group):
            who = f"arn:aws:iam::user/{principal.access_key_id}"
            resource = arn_of(group) if group is not None else "*"
            raise errors.AccessDeniedException(
                f"User: {who} is not authorized to perform: {action} on resource: {resource} "
                f"because no identity-based policy allows the {action} action"
            )


def group_from_identifier(identifier: str) -> str:
    """A log group name from a name or an ARN (``arn:...:log-group:NAME[:*]``)."""
    if not identifier.startswith("arn:"):
        return identifier
    _, sep, rest = identifier.partition(":log-group:")
    if not sep or not rest:
        raise errors.InvalidParameterException(f"Invalid log group identifier: {identifier}")
    name = rest.removesuffix(":*")
    return name.split(":log-stream:")[0]


def groups_named(req: Mapping[str, object]) -> list[str]:
    """Every log group a request names, for permission checks."""
    found: list[str] = []
    for key in ("logGroupName", "logGroupIdentifier"):
        value = req.get(key)
        if isinstance(value, str):
            found.append(group_from_identifier(value))
    for key in ("logGroupNames", "logGroupIdentifiers"):
        value = req.get(key)
        if isinstance(value, list):
            found.extend(group_from_identifier(v) for v in value if isinstance(v, str))
    arn = req.get("resourceArn")
    if isinstance(arn, str) and ":log-group:" in arn:
        found.append(group_from_identifier(arn))
    return found
