"""DuckDB for floe's engine hand-off: offline extensions, storage secrets, filters as SQL.

Shared by the adapters that hand a table to DuckDB. DuckDB's ``LOAD
iceberg`` would download the extension; floe loads the binaries the PyPI
packages ``duckdb-extension-<name>`` ship, by path, so it works offline.
A floe row filter (bound by PyIceberg, negations pushed in) becomes a SQL
condition with the meaning floe's own scans give it: Arrow's, which differs
from DuckDB's for NaN (DuckDB orders NaN above every number) and for
``not in`` over nulls (Arrow keeps them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from pyiceberg.expressions import BooleanExpression
from pyiceberg.expressions.literals import Literal
from pyiceberg.expressions.visitors import BoundBooleanExpressionVisitor, visit
from pyiceberg.schema import Schema
from pyiceberg.typedef import L
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from floe.domain.errors import FloeStorageError, InvalidFilterError, MissingExtraError, ScanError

_EPOCH = dt.datetime(1970, 1, 1)
_INSTALL = "install floe's duckdb extra: pip install 'floe[duckdb]'"


def duckdb_module() -> ModuleType:
    """The ``duckdb`` package.

    Raises:
        MissingExtraError: It is not installed.
    """
    try:
        return importlib.import_module("duckdb")
    except ImportError as exc:
        raise MissingExtraError(f"handing a table to DuckDB needs duckdb; {_INSTALL}") from exc


def open_connection(given: Any | None, extensions: Sequence[str]) -> Any:
    """The caller's DuckDB connection (or a new in-memory one) with ``extensions`` loaded.

    Raises:
        MissingExtraError: DuckDB or an extension built for its version is missing.
    """
    duckdb = duckdb_module()
    connection = given if given is not None else duckdb.connect()
    loaded = {
        row[0]
        for row in connection.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
        ).fetchall()
    }
    for name in extensions:
        if name not in loaded:
            connection.execute(f"LOAD {sql_string(str(_extension_file(name, duckdb)))}")
    return connection


@contextmanager
def relation_errors(table: str) -> Iterator[None]:
    """DuckDB's failures while a relation of ``table`` is made, as a :class:`ScanError`.

    Making a relation binds its query: DuckDB opens the connection's
    extensions and, for ``iceberg_scan``, reads the table's metadata file,
    so a closed connection, a missing file or storage refusing the read
    fails here, and the error names the table. Failures once the relation
    runs are DuckDB's own (floe is not there then).

    Raises:
        ScanError: DuckDB raised; the message names the table and says what failed.
    """
    try:
        yield
    except FloeStorageError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise
        raise ScanError(
            f"hand table {table} to DuckDB: {_duckdb_failure(exc)}", subject=table
        ) from exc


def _duckdb_failure(exc: BaseException) -> str:
    """What a DuckDB exception says went wrong, in one line."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status:
        refused = "storage refused the read" if status in (401, 403) else "a storage request failed"
        return f"{refused} (HTTP {status}): {first}"
    name = type(exc).__name__
    if name == "IOException":
        return f"a file of the table cannot be read: {first}"
    if name == "ConnectionException":
        return f"the DuckDB connection cannot be used: {first}"
    return f"DuckDB failed ({name}): {first}"


def _extension_file(name: str, duckdb: ModuleType) -> Path:
    version = str(duckdb.__version__)
    missing = (
        f"the DuckDB extension {name!r} for DuckDB {version} is not installed "
        f"(duckdb-extension-{name}=={version}); {_INSTALL}"
    )
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise MissingExtraError(missing) from exc
    path = Path(str(package.__file__)).parent / "extensions" / f"v{version}"
    path = path / f"{name}.duckdb_extension"
    if not path.is_file():
        raise MissingExtraError(missing)
    return path


def add_s3_secret(connection: Any, properties: Mapping[str, str], scope: str) -> None:
    """Give DuckDB the S3 settings of a table's FileIO, for paths under ``scope``.

    The settings are those PyIceberg reads the table with (``s3.endpoint``,
    ``s3.access-key-id``, ``s3.secret-access-key``, ``s3.session-token``,
    ``s3.region``): the catalog's properties overlaid by what the catalog
    answered for the table. The secret is temporary (this connection only)
    and named after what it holds, so two tables share one.
    """
    parts = ["TYPE s3", f"SCOPE {sql_string(scope)}"]
    settings = {
        "KEY_ID": properties.get("s3.access-key-id"),
        "SECRET": properties.get("s3.secret-access-key"),
        "SESSION_TOKEN": properties.get("s3.session-token"),
        "REGION": properties.get("s3.region") or properties.get("client.region"),
    }
    parts += [f"{key} {sql_string(value)}" for key, value in settings.items() if value]
    endpoint = properties.get("s3.endpoint")
    if endpoint:
        parsed = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        parts.append(f"ENDPOINT {sql_string(parsed.netloc)}")
        parts.append(f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}")
        virtual = str(properties.get("s3.force-virtual-addressing", "false")).lower() == "true"
        parts.append(f"URL_STYLE {sql_string('vhost' if virtual else 'path')}")
    digest = hashlib.sha256(repr(sorted(parts)).encode()).hexdigest()[:16]
    statement = f"CREATE OR REPLACE TEMPORARY SECRET floe_s3_{digest} ({', '.join(parts)})"
    connection.execute(statement)


def sql_string(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_name(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def filter_sql(bound: BooleanExpression, schema: Schema) -> str:
    """A bound floe filter (negations pushed in) as a SQL condition for DuckDB.

    Raises:
        InvalidFilterError: It compares a column of a type DuckDB cannot be
            given a literal of here.
    """
    return visit(bound, _ToSQL(schema))


class _ToSQL(BoundBooleanExpressionVisitor[str]):
    def __init__(self, schema: Schema) -> None:
        self._schema = schema

    def _column(self, term: Any) -> str:
        field = term.ref().field
        if any(f.field_id == field.field_id for f in self._schema.fields):
            return sql_name(field.name)
        path = self._schema.find_column_name(field.field_id) or field.name
        return ".".join(sql_name(part) for part in path.split("."))

    def _type(self, term: Any) -> IcebergType:
        field_type: IcebergType = term.ref().field.field_type
        return field_type

    def _compare(self, term: Any, operator: str, literal: Literal[Any]) -> str:
        column = self._column(term)
        condition = f"({column} {operator} {_literal(literal.value, self._type(term))})"
        if operator in (">", ">=") and isinstance(self._type(term), FloatType | DoubleType):
            # DuckDB sorts NaN above every number; Arrow's NaN compares false.
            return f"({condition} AND NOT isnan({column}))"
        return condition

    def _values(self, term: Any, literals: set[Any]) -> str:
        field_type = self._type(term)
        rendered = sorted(_literal(value, field_type) for value in literals)
        return ", ".join(rendered)

    def visit_in(self, term: Any, literals: set[L]) -> str:
        return f"({self._column(term)} IN ({self._values(term, literals)}))"

    def visit_not_in(self, term: Any, literals: set[L]) -> str:
        # Arrow's is_in answers false for a null, so its negation keeps nulls.
        column = self._column(term)
        return f"({column} IS NULL OR {column} NOT IN ({self._values(term, literals)}))"

    def visit_is_nan(self, term: Any) -> str:
        return f"isnan({self._column(term)})"

    def visit_not_nan(self, term: Any) -> str:
        return f"(NOT isnan({self._column(term)}))"

    def visit_is_null(self, term: Any) -> str:
        return f"({self._column(term)} IS NULL)"

    def visit_not_null(self, term: Any) -> str:
        return f"({self._column(term)} IS NOT NULL)"

    def visit_equal(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, "=", literal)

    def visit_not_equal(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, "<>", literal)

    def visit_greater_than_or_equal(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, ">=", literal)

    def visit_greater_than(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, ">", literal)

    def visit_less_than(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, "<", literal)

    def visit_less_than_or_equal(self, term: Any, literal: Literal[L]) -> str:
        return self._compare(term, "<=", literal)

    def visit_starts_with(self, term: Any, literal: Literal[L]) -> str:
        return f"starts_with({self._column(term)}, {sql_string(str(literal.value))})"

    def visit_not_starts_with(self, term: Any, literal: Literal[L]) -> str:
        return f"(NOT starts_with({self._column(term)}, {sql_string(str(literal.value))}))"

    def visit_true(self) -> str:
        return "TRUE"

    def visit_false(self) -> str:
        return "FALSE"

    def visit_not(self, child_result: str) -> str:
        return f"(NOT {child_result})"

    def visit_and(self, left_result: str, right_result: str) -> str:
        return f"({left_result} AND {right_result})"

    def visit_or(self, left_result: str, right_result: str) -> str:
        return f"({left_result} OR {right_result})"


def _literal(value: Any, field_type: IcebergType) -> str:
    """A bound literal (PyIceberg's internal representation) as DuckDB SQL."""
    if isinstance(field_type, BooleanType):
        return "TRUE" if value else "FALSE"
    if isinstance(field_type, IntegerType | LongType):
        return str(int(value))
    if isinstance(field_type, FloatType | DoubleType):
        kind = "FLOAT" if isinstance(field_type, FloatType) else "DOUBLE"
        return f"CAST({sql_string(repr(float(value)))} AS {kind})"
    if isinstance(field_type, DecimalType):
        text = str(Decimal(value))
        return f"CAST({sql_string(text)} AS DECIMAL({field_type.precision}, {field_type.scale}))"
    if isinstance(field_type, StringType):
        return sql_string(str(value))
    if isinstance(field_type, DateType):
        return f"DATE {sql_string((_EPOCH + dt.timedelta(days=int(value))).date().isoformat())}"
    if isinstance(field_type, TimeType):
        clock = (_EPOCH + dt.timedelta(microseconds=int(value))).time()
        return f"TIME {sql_string(clock.isoformat())}"
    if isinstance(field_type, TimestampType):
        return (
            f"TIMESTAMP {sql_string((_EPOCH + dt.timedelta(microseconds=int(value))).isoformat())}"
        )
    if isinstance(field_type, TimestamptzType):
        moment = (_EPOCH + dt.timedelta(microseconds=int(value))).isoformat()
        return f"TIMESTAMPTZ {sql_string(moment + '+00:00')}"
    if isinstance(field_type, UUIDType):
        text = str(value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=bytes(value)))
        return f"UUID {sql_string(text)}"
    if isinstance(field_type, BinaryType | FixedType):
        return f"unhex({sql_string(bytes(value).hex())})"
    raise InvalidFilterError(f"a filter on a {field_type} column cannot be handed to DuckDB")
