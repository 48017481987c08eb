"""The synthetic datasource catalogue that composite-task init maps from."""

from __future__ import annotations

import pytest

from fdi_drift.emulator.catalogue import (
    DATASOURCE_TYPES,
    auto_mappings,
    auto_schema_mappings,
    catalogue_of,
)

SOME_IDS = ["30969b205e8f4392a25fb321112d1753", "a", "ds-one", "ds-two", "x" * 64]


@pytest.mark.parametrize("datasource_id", SOME_IDS)
def test_catalogue_is_large_enough_to_truncate(datasource_id: str) -> None:
    """Every catalogue holds at least 12 uniquely named tables in 2-3 schemas."""
    catalogue = catalogue_of(datasource_id)
    names = [table.name for table in catalogue.tables]
    assert len(names) >= 12
    assert len(set(names)) == len(names)
    assert 2 <= len(catalogue.schemas) <= 3
    assert {table.schema for table in catalogue.tables} == set(catalogue.schemas)
    assert catalogue.type in DATASOURCE_TYPES
    assert catalogue.name == f"ds-{datasource_id[:8]}"


def test_catalogue_is_deterministic_per_datasource() -> None:
    """The same id gives the same catalogue; different ids usually differ."""
    assert catalogue_of("ds-one") == catalogue_of("ds-one")
    assert len({catalogue_of(i).tables for i in SOME_IDS}) == len(SOME_IDS)


def test_every_table_starts_with_an_id_column() -> None:
    """Tables have an `id bigint(20)` column first and 3-6 columns in all."""
    for table in catalogue_of("ds-one").tables:
        assert (table.columns[0].name, table.columns[0].type) == ("id", "bigint")
        assert 3 <= len(table.columns) <= 6


def test_auto_mappings_map_every_table_and_column_one_to_one() -> None:
    """Automatic mappings map each table to its namesake, column by column, status AUTO."""
    catalogue = catalogue_of("ds-one")
    mappings = auto_mappings(catalogue, "task-1", 123)
    assert [m["source_table"] for m in mappings] == [t.name for t in catalogue.tables]
    for mapping, table in zip(mappings, catalogue.tables, strict=True):
        assert mapping["target_table"] == table.name
        assert (mapping["status"], mapping["updated_time"]) == ("AUTO", 123)
        assert mapping["source_columns"] == mapping["target_columns"]
        pairs = mapping["mapping"]
        assert isinstance(pairs, list)
        assert [pair["source_column"] for pair in pairs] == [c.name for c in table.columns]


def test_mapping_ids_depend_on_task_and_table() -> None:
    """Mapping ids repeat for the same task and differ between tasks and tables."""
    catalogue = catalogue_of("ds-one")
    first = [m["id"] for m in auto_mappings(catalogue, "task-1", 0)]
    assert first == [m["id"] for m in auto_mappings(catalogue, "task-1", 99)]
    assert len(set(first)) == len(first)
    assert set(first).isdisjoint(m["id"] for m in auto_mappings(catalogue, "task-2", 0))


def test_schema_mappings_map_each_schema_to_itself() -> None:
    """One AUTO schema mapping per schema, source and target equal."""
    catalogue = catalogue_of("ds-one")
    schema_mappings = auto_schema_mappings(catalogue, "task-1", 5)
    assert [m["source_schema"] for m in schema_mappings] == list(catalogue.schemas)
    assert all(m["target_schema"] == m["source_schema"] for m in schema_mappings)
    assert all((m["status"], m["updated_time"]) == ("AUTO", 5) for m in schema_mappings)
