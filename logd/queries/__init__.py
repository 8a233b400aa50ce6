"""Logs Insights in the daemon: the query worker pool, history and saved definitions.

`QueryService` (service.py) runs StartQuery's queries on the store through
`query.run_query`; `history.py` keeps the query history and definitions in the catalog;
`definitions.py` is Put/Describe/DeleteQueryDefinition; `records.py` is GetLogRecord
and GetLogGroupFields; `groups.py` resolves `SOURCE`.
"""

from logd.queries.options import QueryOptions
from logd.queries.service import QueryResults, QueryService

__all__ = ["QueryOptions", "QueryResults", "QueryService"]
