"""`SOURCE logGroups(...)`: the log groups a query selects in its text (§3.13)."""

from __future__ import annotations

from collections.abc import Mapping

from logd import errors
from logd.model import Scope
from logd.store.catalog import GroupRecord
from query.insights.ast import Number, Source, String

MAX_SOURCE_GROUPS = 10_000
MAX_PREFIXES = 5
_ARGS = {"namePrefix", "class", "logGroupClass", "accountIdentifiers"}


def _strings(values: tuple[String | Number, ...], name: str) -> list[str]:
    out = []
    for v in values:
        if not isinstance(v, String):
            raise errors.InvalidParameterException(f"SOURCE {name} takes strings.")
        out.append(v.value)
    return out


def resolve_source(source: Source, groups: Mapping[int, GroupRecord], scope: Scope) -> list[str]:
    """Names of the live groups `source` selects, sorted; InvalidParameterException for
    a selection logd cannot make (another account, too many groups)."""
    if source.function.name.lower() != "loggroups":
        raise errors.InvalidParameterException("SOURCE supports only logGroups(...).")
    prefixes: list[str] = []
    classes = ["STANDARD"]
    for arg in source.args:
        name = arg.name.name
        if name not in _ARGS:
            raise errors.InvalidParameterException(f"Unknown SOURCE argument: {name}.")
        values = _strings(arg.values.items, name)
        if name == "namePrefix":
            if len(values) > MAX_PREFIXES:
                raise errors.InvalidParameterException(
                    f"SOURCE namePrefix takes at most {MAX_PREFIXES} prefixes."
                )
            prefixes = values
        elif name == "accountIdentifiers":
            if any(v != scope.account for v in values):
                raise errors.InvalidParameterException(
                    f"SOURCE accountIdentifiers: logd holds only account {scope.account}."
                )
        else:
            classes = values
    chosen = sorted(
        g.name
        for g in groups.values()
        if g.log_group_class in classes and (not prefixes or g.name.startswith(tuple(prefixes)))
    )
    if len(chosen) > MAX_SOURCE_GROUPS:
        raise errors.InvalidParameterException(
            f"SOURCE selects {len(chosen)} log groups (at most {MAX_SOURCE_GROUPS}); "
            "narrow the selection."
        )
    return chosen
