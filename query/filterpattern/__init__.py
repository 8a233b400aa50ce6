"""CloudWatch Logs filter patterns, compiled once into a fast predicate and into DuckDB SQL.

    pattern = compile('{ $.level = "ERROR" && $.latency > 500 }')
    pattern.matches(message)                 # one event
    pattern.match_batch(messages, cache)     # a batch; JsonCache shares JSON parsing
    pattern.sql("message")                   # (sql_text, params) for DuckDB
    pattern.test(message)                    # TestMetricFilter: extractedValues or None
    pattern.extract(message, "$.latency")    # a metric filter's value

Guarantees: the predicate and the SQL give the same answer for every message that both
JSON parsers read alike (docs/filter-patterns.md lists the exceptions); every regex is RE2
(linear time); a malformed pattern, or one over 1024 characters, raises
`query.errors.FilterPatternError` with the offset of the fault and nothing else.
Pipeline: lexer.py -> grammar.lark (parser.py) -> ast.py -> compile.py / sql.py.
"""

from .jsonpred import EventView, JsonCache
from .parser import MAX_PATTERN_LENGTH, parse
from .pattern import FilterPattern, compile_pattern

# `compile` is the name docs/internals.md gives the entry point.
compile = compile_pattern

__all__ = [
    "MAX_PATTERN_LENGTH",
    "EventView",
    "FilterPattern",
    "JsonCache",
    "compile",
    "compile_pattern",
    "parse",
]
