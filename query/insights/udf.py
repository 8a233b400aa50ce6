"""Python functions DuckDB calls for what SQL does poorly: IP address tests (vectorised)."""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

import duckdb
import pyarrow as pa
from duckdb import sqltypes

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str | None, version: int) -> IPAddress | None:
    if text is None:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return address if version in (0, address.version) else None


@functools.lru_cache(maxsize=256)
def _network(text: str, version: int) -> IPNetwork | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return network if version in (0, network.version) else None


def ip_valid(texts: pa.Array, versions: pa.Array) -> pa.Array:
    return pa.array(
        [
            None if t is None else _address(t, v) is not None
            for t, v in zip(texts.to_pylist(), versions.to_pylist(), strict=True)
        ],
        type=pa.bool_(),
    )


def ip_in(texts: pa.Array, cidrs: pa.Array, versions: pa.Array) -> pa.Array:
    out: list[bool | None] = []
    for t, c, v in zip(texts.to_pylist(), cidrs.to_pylist(), versions.to_pylist(), strict=True):
        if t is None or c is None:
            out.append(None)
            continue
        network = _network(c, 0)
        if network is None:  # not a CIDR at all: null (a literal one is refused earlier)
            out.append(None)
            continue
        address = _address(t, v)
        out.append(address is not None and v in (0, network.version) and address in network)
    return pa.array(out, type=pa.bool_())


def install(con: duckdb.DuckDBPyConnection) -> None:
    varchar, integer, boolean = sqltypes.VARCHAR, sqltypes.INTEGER, sqltypes.BOOLEAN
    arrow: Any = "arrow"  # the stubs want the PythonUDFType enum; DuckDB takes its name
    udf: Any = con.create_function
    special: Any = "special"  # nulls reach the function, which may return null
    udf("ld_ipvalid", ip_valid, [varchar, integer], boolean, type=arrow, null_handling=special)
    udf("ld_ipin", ip_in, [varchar, varchar, integer], boolean, type=arrow, null_handling=special)
