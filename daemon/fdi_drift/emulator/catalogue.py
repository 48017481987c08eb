"""A synthetic catalogue of any datasource, from which composite-task init builds its mappings.

The emulator has no real datasources, so it makes one up per datasource id, the same every time
(seeded from the SHA-256 of the id; no process state, no clock):

- its name is `ds-<first 8 characters of the id>` and its type one of MYSQL, POSTGRESQL,
  ORACLE, SQLSERVER, DWS;
- it holds 2-3 schemas (from sales, crm, inventory, billing, logistics) and 12-18 tables
  named from a fixed list of 24, each name used once, spread over the schemas in turn;
- every table has an `id bigint(20)` column first, then 2-5 more columns from a fixed list.

`auto_mapping` maps every table to a table of the same name and columns, and every schema to
a schema of the same name, all with status `AUTO`. Mapping ids are the MD5 hex digest of the
task id and the table (or schema) name, so repeating an init repeats the ids.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

DATASOURCE_TYPES = ("MYSQL", "POSTGRESQL", "ORACLE", "SQLSERVER", "DWS")
SCHEMAS = ("sales", "crm", "inventory", "billing", "logistics")
TABLES = (
    "orders",
    "order_items",
    "customers",
    "customer_addresses",
    "products",
    "product_prices",
    "categories",
    "suppliers",
    "warehouses",
    "stock_levels",
    "shipments",
    "shipment_events",
    "invoices",
    "invoice_lines",
    "payments",
    "refunds",
    "coupons",
    "carts",
    "cart_items",
    "reviews",
    "employees",
    "stores",
    "returns",
    "audit_log",
)
COLUMNS = (
    ("name", "varchar", "255"),
    ("status", "varchar", "32"),
    ("amount", "decimal", "18,2"),
    ("quantity", "int", "11"),
    ("created_at", "datetime", "0"),
    ("updated_at", "datetime", "0"),
    ("owner_id", "bigint", "20"),
    ("remark", "varchar", "1024"),
)
MIN_TABLES = 12
MAX_TABLES = 18


@dataclass(frozen=True, slots=True)
class Column:
    """One column: name, type and length as FDI spells them (`field_length` is text)."""

    name: str
    type: str
    length: str


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the catalogue."""

    schema: str
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the emulator pretends a datasource holds."""

    datasource_id: str
    name: str
    type: str
    schemas: tuple[str, ...]
    tables: tuple[Table, ...]


def catalogue_of(datasource_id: str) -> Catalogue:
    """The datasource's catalogue; equal ids give equal catalogues."""
    digest = hashlib.sha256(datasource_id.encode()).digest()
    draw = random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - fixture data, not secrets
    schemas = tuple(draw.sample(SCHEMAS, draw.randint(2, 3)))
    names = draw.sample(TABLES, draw.randint(MIN_TABLES, MAX_TABLES))
    tables = tuple(
        Table(
            schema=schemas[index % len(schemas)],
            name=name,
            columns=(
                Column("id", "bigint", "20"),
                *(Column(*column) for column in draw.sample(COLUMNS, draw.randint(2, 5))),
            ),
        )
        for index, name in enumerate(names)
    )
    return Catalogue(
        datasource_id=datasource_id,
        name=f"ds-{datasource_id[:8]}",
        type=DATASOURCE_TYPES[digest[0] % len(DATASOURCE_TYPES)],
        schemas=schemas,
        tables=tables,
    )


def auto_mappings(catalogue: Catalogue, task_id: str, now_ms: int) -> list[dict[str, object]]:
    """One MultiTaskMappingElement per table, as the composite task's detail keeps them."""
    return [
        {
            "id": _mapping_id(task_id, f"table:{table.schema}.{table.name}"),
            "source_table": table.name,
            "target_table": table.name,
            "status": "AUTO",
            "updated_time": now_ms,
            "source_columns": [_column_info(column) for column in table.columns],
            "target_columns": [_column_info(column) for column in table.columns],
            "mapping": [
                {
                    "source_column": column.name,
                    "source_column_type": column.type,
                    "source_column_length": column.length,
                    "target_column": column.name,
                    "target_column_type": column.type,
                    "target_column_length": column.length,
                }
                for column in table.columns
            ],
        }
        for table in catalogue.tables
    ]


def auto_schema_mappings(
    catalogue: Catalogue, task_id: str, now_ms: int
) -> list[dict[str, object]]:
    """One MultiTaskSchemaMappingElement per schema."""
    return [
        {
            "id": _mapping_id(task_id, f"schema:{schema}"),
            "source_schema": schema,
            "target_schema": schema,
            "status": "AUTO",
            "updated_time": now_ms,
        }
        for schema in catalogue.schemas
    ]


def _column_info(column: Column) -> dict[str, str]:
    return {"field_name": column.name, "field_type": column.type, "field_length": column.length}


def _mapping_id(task_id: str, what: str) -> str:
    return hashlib.md5(f"{task_id}/{what}".encode(), usedforsecurity=False).hexdigest()
