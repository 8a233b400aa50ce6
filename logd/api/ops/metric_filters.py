"""PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter, TestMetricFilter (§7.14).

The model validator has checked types, lengths, patterns and enums; this module checks
the rest (exactly one transformation, metricName with metricNamespace) and calls the
`MetricFilterService` (``logd/metricfilters.py``), which persists in the catalog and keeps
the engine that matches on ingest. DescribeMetricFilters pages by (filter name, group
name) with a token naming the last row and the listing's filters, so a token from another
listing is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from logd import errors
from logd.api import pagination
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext
from logd.metricfilters import MetricFilterService, MetricTransformation, evaluate_test_messages
from logd.store.catalog_metricfilters import MetricFilterRecord

LISTING_KIND = "metricfilters"
DEFAULT_LIMIT = 50
#: members of PutMetricFilter stored and echoed by DescribeMetricFilters as given
_ECHOED = ("applyOnTransformedLogs", "fieldSelectionCriteria", "emitSystemFieldDimensions")


def _service(ctx: OpContext) -> MetricFilterService:
    service = ctx.metric_filters
    if service is None:
        raise errors.InvalidOperationException("Metric filters are not enabled on this logd.")
    return service


def _transformation(req: Body) -> MetricTransformation:
    items = req.get("metricTransformations")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise errors.InvalidParameterException(
            "A metric filter takes exactly one item in metricTransformations."
        )
    item: dict[str, Any] = items[0]
    default = item.get("defaultValue")
    return MetricTransformation(
        metric_name=str(item["metricName"]),
        metric_namespace=str(item["metricNamespace"]),
        metric_value=str(item["metricValue"]).strip(),
        default_value=float(default) if default is not None else None,
        dimensions={str(k): str(v) for k, v in (item.get("dimensions") or {}).items()},
        unit=str(item["unit"]) if item.get("unit") is not None else None,
    )


async def put_metric_filter(ctx: OpContext, req: Body) -> Body:
    service = _service(ctx)
    options = {k: req[k] for k in _ECHOED if req.get(k) is not None}
    await service.put(
        str(req["logGroupName"]),
        str(req["filterName"]),
        str(req["filterPattern"]),
        _transformation(req),
        options,
    )
    return {}


async def delete_metric_filter(ctx: OpContext, req: Body) -> Body:
    await _service(ctx).delete(str(req["logGroupName"]), str(req["filterName"]))
    return {}


def _wire(row: MetricFilterRecord) -> Body:
    out: Body = {
        "filterName": row.name,
        "filterPattern": row.pattern,
        "metricTransformations": [orjson.loads(row.transformation)],
        "creationTime": row.creation_time,
        "logGroupName": row.group,
        "applyOnTransformedLogs": False,
    }
    out.update(orjson.loads(row.options))
    return out


async def describe_metric_filters(ctx: OpContext, req: Body) -> Body:
    service = _service(ctx)
    group = req.get("logGroupName")
    name, namespace = req.get("metricName"), req.get("metricNamespace")
    if (name is None) != (namespace is None):
        raise errors.InvalidParameterException(
            "metricName and metricNamespace must be specified together."
        )
    metric = (str(name), str(namespace)) if name is not None else None
    # filterNamePrefix is honoured only with logGroupName (logs-api.md §7.14)
    prefix = (
        str(req["filterNamePrefix"]) if group is not None and "filterNamePrefix" in req else None
    )
    listing = [group, prefix, list(metric) if metric else None]
    after = None
    token = req.get("nextToken")
    if token is not None:
        key = pagination.decode(str(token), LISTING_KIND)
        if len(key) != 5 or key[:3] != listing or not all(isinstance(k, str) for k in key[3:]):
            raise errors.InvalidParameterException(pagination.INVALID)
        after = (key[3], key[4])
    limit = int(req.get("limit", DEFAULT_LIMIT))
    rows = await asyncio.to_thread(
        service.store.catalog.list_metric_filters,
        group=str(group) if group is not None else None,
        prefix=prefix,
        metric=metric,
        after=after,
        limit=limit + 1,
    )
    out: Body = {"metricFilters": [_wire(r) for r in rows[:limit]]}
    if len(rows) > limit:
        last = rows[limit - 1]
        out["nextToken"] = pagination.encode(LISTING_KIND, *listing, last.name, last.group)
    return out


async def test_metric_filter(ctx: OpContext, req: Body) -> Body:
    messages = [str(m) for m in req["logEventMessages"]]
    return {"matches": evaluate_test_messages(str(req["filterPattern"]), messages)}


#: Operation name → `Operation`, for the API's registry.
OPERATIONS: dict[str, Operation] = {
    "PutMetricFilter": Operation(put_metric_filter),
    "DescribeMetricFilters": Operation(describe_metric_filters),
    "DeleteMetricFilter": Operation(delete_metric_filter),
    "TestMetricFilter": Operation(test_metric_filter),
}
