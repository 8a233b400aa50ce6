"""CloudWatch's per-log-group quota on filters that use a regex: at most five, metric
filters and subscription filters together.

Both kinds live in the catalog (`metric_filters`, `subscription_filters`); whether a
pattern uses a regex is the filter-pattern compiler's answer, passed in as `uses_regex`
(the store does not compile patterns). A put that replaces a filter of the same kind and
name does not count that filter twice. Filters declared in the configuration file are
not in the catalog: the caller passes them as `extra`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from logd.errors import LimitExceededException
from logd.store.catalog import SQLiteCatalog
from logd.store.catalog_subscriptions import list_filters

MAX_REGEX_FILTERS_PER_GROUP = 5
FilterKind = Literal["metric", "subscription"]
#: (kind, filter name, pattern text)
FilterRef = tuple[FilterKind, str, str]


def group_filters(catalog: SQLiteCatalog, group: str) -> list[FilterRef]:
    """Every metric and subscription filter of `group` in the catalog (blocking)."""
    record = catalog.require_group(group)
    found: list[FilterRef] = [
        ("metric", row.name, row.pattern)
        for row in catalog.list_metric_filters(group=group, limit=1_000_000)
    ]
    found += [("subscription", rec.name, rec.pattern) for rec in list_filters(catalog, record.id)]
    return found


def check_regex_quota(
    filters: Iterable[FilterRef],
    kind: FilterKind,
    name: str,
    pattern: str,
    uses_regex: Callable[[str], bool],
) -> None:
    """LimitExceededException if putting (kind, name, pattern) next to `filters` (the
    group's filters, the one being replaced included or not) makes more than five that
    use a regex."""
    if not uses_regex(pattern):
        return
    others = {(k, n) for k, n, p in filters if (k, n) != (kind, name) and uses_regex(p)}
    if len(others) >= MAX_REGEX_FILTERS_PER_GROUP:
        raise LimitExceededException(
            f"Resource limit exceeded: a log group can have at most "
            f"{MAX_REGEX_FILTERS_PER_GROUP} metric and subscription filters that use a "
            "regular expression."
        )
