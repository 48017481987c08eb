"""Tests for the files `export` makes from live documents, one resource at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
import yaml_rs

from fdi_drift import exporter
from fdi_drift.desired_state import parse_resource_text, text_problems
from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.errors import DesiredStateError
from fdi_drift.exporter import ExportedFile, PlaceholderReason, export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import LiveEntry, Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.service import Runtime
from fdi_drift.yaml_documents import dump_and_read, load_documents
from tests.conftest import INSTANCE, PROJECT

SCOPE = Scope(PROJECT, INSTANCE)
TASK_ID = "0b7c1e5a3d9f4a2b8c6e1f0d2a4b6c81"


def live(detail: dict[str, Any], **task: Any) -> dict[str, Any]:
    """A decoded live task: a few writable fields and `detail`."""
    fields = {"task_name": "orders", "task_type": "timing", "description": "orders", **task}
    return {"task": fields, "task_detail": detail}


def export_one(document: dict[str, Any], name: str = "orders") -> tuple[ExportedFile, str]:
    """The file and text `export` makes of one live FdiTask."""
    specs = catalog.specs()
    ignore = compile_ignore(specs[FDI_TASK].default_ignore)
    entry = LiveEntry(TASK_ID, name, None)
    return exporter._exported(FDI_TASK, SCOPE, entry, document, specs, ignore, Path("out"))


def counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """A list that grows by one at each call of `module.name`."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(module, name)

    def count(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, count)
    return calls


async def test_texts_the_block_writer_wrote_are_not_read_back(
    make_runtime: Callable[..., Runtime], desired_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its forms read alike by construction: what it wrote is validated without a reading."""
    fast_reads = counted(monkeypatch, yaml_rs, "loads")
    pyyaml_reads = counted(monkeypatch, yaml, "load_all")
    runtime = make_runtime()
    written = await export_resources(
        runtime.drivers, catalog.specs(), [(FDI_TASK, SCOPE)], desired_dir
    )
    assert len(written) == 2
    assert (len(fast_reads), len(pyyaml_reads)) == (0, 0)


@pytest.mark.parametrize(
    ("note", "reads"),
    [("line\nbreak", (1, 0)), ("line\n\tbreak", (0, 1))],
    ids=["fast reading", "PyYAML reading"],
)
def test_any_other_text_is_read_back_once(
    monkeypatch: pytest.MonkeyPatch, note: str, reads: tuple[int, int]
) -> None:
    """The one reading that proves yaml-rs's text reads back exactly is also the one validated;
    a tab in a literal block leaves the text to PyYAML alone."""
    fast_reads = counted(monkeypatch, yaml_rs, "loads")
    pyyaml_reads = counted(monkeypatch, yaml, "load_all")
    _, text = export_one(live({"note": note}))
    assert (len(fast_reads), len(pyyaml_reads)) == reads
    assert load_documents(text)[0]["spec"]["task_detail"] == {"note": note}


@pytest.mark.parametrize(
    "value",
    ["plain", "a\nb", "a\n\tb"],
    ids=["block writer", "yaml-rs and its fast reading", "yaml-rs and PyYAML's reading"],
)
def test_an_invalid_export_is_refused_whichever_writer_and_reader(value: str) -> None:
    """Each writer's text is validated: from the document, or from whichever reading proved it."""
    with pytest.raises(DesiredStateError) as refused:
        export_one(live({"note": value}), name="x")
    assert f"FdiTask x ({TASK_ID}) cannot be exported" in str(refused.value)
    assert refused.value.problems == (
        "x.yaml:4: /metadata/name: a task name is 3-100 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit",
    )


@pytest.mark.parametrize(
    "document",
    [
        live({"note": "plain", "rows": [1, 1.5, True, None]}),
        live({"note": "a\n\tb"}),
        live({"note": "a\nb"}),
        live({"note": "plain"}, task_type="nightly", description=""),
        live({"secretRef": 3}),
    ],
    ids=["valid", "PyYAML reading", "yaml-rs reading", "invalid fields", "invalid reference"],
)
def test_a_reading_given_validates_as_the_text_does(document: dict[str, Any]) -> None:
    """Validation from the reading `dump_and_read` gives finds what reading the text finds."""
    spec = catalog.specs()[FDI_TASK].export_spec(document)
    resource = {
        "apiVersion": "fdi-drift/v1",
        "kind": "FdiTask",
        "metadata": {"name": "orders", "project_id": PROJECT, "instance_id": INSTANCE},
        "spec": spec,
    }
    text, reading = dump_and_read(resource)
    assert load_documents(text) == [resource]
    given = parse_resource_text("orders.yaml", text, reading=reading)
    assert given == parse_resource_text("orders.yaml", text)
    # and what export checks finds the same problems
    assert text_problems("orders.yaml", text, catalog.specs(), reading=reading) == given[1]


def test_secret_looking_keys_are_found_wherever_they_sit() -> None:
    """Keys in lists of mappings, keys JSON must escape, masked items of lists: all found."""
    detail = {
        "sources": [{"name": "a"}, {"db": {'my"Password': "p1", "note": "x"}}],
        "headers": [{"key": "accept", "value": "json"}, ["******", "ok"]],
        "nested": {"line\nbreak": {"user_sk": "s3"}},
    }
    item, text = export_one(live(detail))
    assert [(p.pointer, p.reason) for p in item.placeholders] == [
        ('/spec/task_detail/sources/1/db/my"Password', PlaceholderReason.SECRET_LOOKING_KEY),
        ("/spec/task_detail/headers/1/0", PlaceholderReason.MASKED),
        ("/spec/task_detail/nested/line\nbreak/user_sk", PlaceholderReason.SECRET_LOOKING_KEY),
    ]
    assert "p1" not in text and "s3" not in text and "******" not in text


def test_a_document_without_secrets_is_not_walked_for_placeholders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing masked and no secret-looking key: the placeholder walk never starts."""
    walks = counted(monkeypatch, exporter, "_placeholders")
    item, _ = export_one(live({"password_rule": None, "rows": [{"field_name": "PASSWORD"}]}))
    assert item.placeholders == () and walks
    walks.clear()
    item, _ = export_one(live({"rows": [{"field_name": "PASSWORD", "note": "**"}]}))
    assert item.placeholders == () and not walks


def test_cursors_are_left_out_and_a_wide_integer_still_exports() -> None:
    """The kind's ignore rules prune the file; a value orjson cannot write takes the walks."""
    detail = {"source": {"dataTimestamp": 1606807799782, "keep": 1}, "big": 2**70}
    item, text = export_one(live(detail))
    assert load_documents(text)[0]["spec"]["task_detail"] == {"source": {"keep": 1}, "big": 2**70}
    assert [p.pointer for p in item.placeholders] == []
