"""The two languages over log events: filter patterns and Logs Insights.

Usable on its own; imports nothing from logd.
"""

from query.errors import FilterPatternError, QueryError
from query.filterpattern import EventView, FilterPattern, JsonCache
from query.filterpattern import compile_pattern as compile_filter_pattern

__all__: list[str] = []
# filter patterns
__all__ += ["EventView", "FilterPattern", "JsonCache", "compile_filter_pattern"]
# errors
__all__ += ["FilterPatternError", "QueryError"]
