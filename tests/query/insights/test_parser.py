"""Parser: the AST shape, positions, precedence, and the canonical printer's round trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from query import InsightsQueryError
from query.insights import ast
from query.insights.format import format_query
from query.insights.parser import parse
from tests.query.insights import golden

SKIP = {"pos", "name_pos", "count_pos", "text", "quoted"}


def shape(node: Any) -> Any:
    """A node without positions or source text, for structural comparison."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (
            type(node).__name__,
            *(shape(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name not in SKIP),
        )
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    return node


def test_commands_and_positions() -> None:
    query = parse('filter level = "ERROR"\n| fields @timestamp, user')
    first, second = query.commands
    assert isinstance(first, ast.Filter)
    assert isinstance(second, ast.Fields)
    compare = first.expr
    assert isinstance(compare, ast.Compare)
    assert compare.left == ast.Field("level", ast.Pos(1, 8, 7, 12))
    assert compare.right == ast.String("ERROR", ast.Pos(1, 16, 15, 22))
    assert second.items[1].expr == ast.Field("user", ast.Pos(2, 22, 44, 48))


def test_precedence() -> None:
    (fields,) = parse("fields -2 ^ 2 + 3 * 4 as x").commands
    assert isinstance(fields, ast.Fields)
    expr = fields.items[0].expr
    assert shape(expr) == shape(
        ast.Arith(
            "+",
            ast.Neg(ast.Arith("^", ast.Number(2, _P), ast.Number(2, _P), _P), _P),
            ast.Arith("*", ast.Number(3, _P), ast.Number(4, _P), _P),
            _P,
        )
    )


_P = ast.Pos(1, 1, 0, 0)


def test_not_binds_looser_than_comparison_and_tighter_than_and() -> None:
    (flt,) = parse("filter not a = 1 and b like /x/").commands
    assert isinstance(flt, ast.Filter)
    assert isinstance(flt.expr, ast.Logical)
    assert flt.expr.op == "and"
    assert isinstance(flt.expr.left, ast.Not)
    assert isinstance(flt.expr.left.operand, ast.Compare)


def test_keywords_are_case_insensitive_and_names_are_not() -> None:
    a = parse("FILTER User = 'x' | STATS COUNT(*) AS n BY bin(5m)")
    b = parse("filter User = 'x' | stats COUNT(*) as n by bin(5m)")
    assert shape(a) == shape(b)
    assert shape(a) != shape(parse("filter user = 'x' | stats COUNT(*) as n by bin(5m)"))


def test_unaliased_column_text_drops_whitespace_outside_strings() -> None:
    (stats,) = parse('stats count( * ), sum( strlen("a b") ) by bin( 5m )').commands
    assert isinstance(stats, ast.Stats)
    assert [i.text for i in stats.items] == ["count(*)", 'sum(strlen("a b"))']
    assert stats.by[0].text == "bin(5m)"


def test_error_carries_a_caret_excerpt() -> None:
    with pytest.raises(InsightsQueryError) as info:
        parse("fields a\n| filter b = ")
    err = info.value
    assert (err.line, err.column, err.start, err.end) == (2, 14, 22, 22)
    assert err.excerpt == "| filter b = \n" + " " * 13 + "^"


@pytest.mark.parametrize("path", golden.cases(), ids=lambda p: p.stem)
def test_canonical_text_round_trips(path: Path) -> None:
    case = golden.load(path)
    try:
        tree = parse(case.query)
    except InsightsQueryError:
        return
    text = format_query(tree)
    again = parse(text)
    assert shape(again) == shape(tree), text
    assert format_query(again) == text
