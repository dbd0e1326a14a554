"""Bounded integers for path and query parameters.

An unbounded ``int`` parameter is a 500 waiting to happen: Python's integers have no
limit, the databases' do (SQLite raised ``OverflowError`` binding
``/versions/99999999999999999999999``; PostgreSQL's ``integer`` stops at 2^31-1). Every int a
client can put in a path or a query is one of these, or carries its own ``ge``/``le``, so an
out-of-range value is a 422 ``VALIDATION_FAILED`` naming the parameter, before any query
runs. tests/security/test_api4_resource_consumption.py sweeps the OpenAPI document for int
parameters without both bounds, so a new route cannot forget.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT32_MAX = 2**31 - 1  # PostgreSQL ``integer``, the type of every integer column here

# A positive number that names a row, such as an adapter's version.
PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX)]
