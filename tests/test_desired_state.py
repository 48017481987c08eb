"""Tests for loading and validating desired-state trees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fdi_drift.checkout import git_revision
from fdi_drift.cloud.identifiers import ID_RULE, check_id
from fdi_drift.desired_files import OpenedFile
from fdi_drift.desired_state import DesiredStateLoader
from fdi_drift.drift.model import ReconcileMode
from fdi_drift.errors import DesiredStateError, InvalidIdentifierError, SecretError
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.secrets import SecretResolver

VALID = """\
apiVersion: fdi-drift/v1
kind: FdiTask
metadata:
  name: orders-mysql-to-mysql
  project_id: c53626012ba84727b938ca8bf03108ef
  instance_id: fae7ff6c-8e07-4cf8-9e67-589cab2f017c
spec:
  task:
    task_type: timing
    description: orders to reporting
  task_detail:
    sourceSelectedDatasource:
      sourceTable: shop.orders
      bodyRaw:
        pageSize: "10"
policy:
  reconcile: dry-run
ignore:
  - /task_detail/**/batchNumber
"""


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def problems_of(root: Path) -> tuple[str, ...]:
    with pytest.raises(DesiredStateError) as caught:
        DesiredStateLoader(root).load()
    return caught.value.problems


def test_valid_file_becomes_a_resource(tmp_path: Path) -> None:
    """A valid file yields its identity, policy and the document with implied fields."""
    loaded = DesiredStateLoader(tree(tmp_path, {"a/orders.yaml": VALID})).load()
    (resource,) = loaded.resources
    assert resource.key.kind == FDI_TASK
    assert resource.key.name == "orders-mysql-to-mysql"
    assert resource.source == "a/orders.yaml"
    assert resource.reconcile is ReconcileMode.DRY_RUN
    task = resource.document["task"]
    assert isinstance(task, dict)
    assert task["task_name"] == "orders-mysql-to-mysql"
    assert task["task_type"] == "TIMING"
    assert loaded.revision.startswith("content-")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("kind: FdiTask", "kind: FdiTsak"), "orders.yaml:2: /kind: must be one of"),
        (
            ("  name: orders-mysql-to-mysql", "  name: x"),
            "orders.yaml:4: /metadata/name: a task name",
        ),
        (("    task_type: timing", "    task_type: hourly"), "orders.yaml:9: /spec/task/task_type"),
        (
            ("    description: orders to reporting", "    status: running"),
            "orders.yaml:10: /spec/task/status: owned by the service",
        ),
        (("  reconcile: dry-run", "  reconcile: always"), "orders.yaml:17: /policy/reconcile"),
        (("  - /task_detail/**/batchNumber", "  - task_detail"), "orders.yaml:19: /ignore/0"),
        (("      sourceTable: shop.orders", "      sourceTable: 2024-01-01"), None),
        (("spec:", "specs:"), "orders.yaml:7: /specs: unknown field"),
    ],
)
def test_problems_name_file_line_and_pointer(
    tmp_path: Path, change: tuple[str, str], expected: str | None
) -> None:
    """Every problem is reported as file:line: pointer: message."""
    text = VALID.replace(*change)
    assert text != VALID
    root = tree(tmp_path, {"orders.yaml": text})
    if expected is None:  # dates stay strings: JSON has no dates
        (resource,) = DesiredStateLoader(root).load().resources
        detail = resource.document["task_detail"]
        assert isinstance(detail, dict)
        assert detail["sourceSelectedDatasource"]["sourceTable"] == "2024-01-01"  # type: ignore[index,call-overload]
        return
    assert any(p.startswith(expected) for p in problems_of(root)), problems_of(root)


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    """Broken YAML and duplicate keys are problems with lines, not silent last-wins."""
    root = tree(
        tmp_path,
        {
            "broken.yaml": "apiVersion: [\n",
            "dupe.yaml": VALID.replace("policy:\n", "kind: FdiTask\npolicy:\n"),
        },
    )
    found = problems_of(root)
    assert any(p.startswith("broken.yaml:") and "not valid YAML" in p for p in found)
    assert "dupe.yaml:16: duplicate key 'kind'" in found


def test_duplicate_identities_name_both_files(tmp_path: Path) -> None:
    """Two files declaring the same task are both reported."""
    found = problems_of(tree(tmp_path, {"one.yaml": VALID, "two.yaml": VALID}))
    assert len([p for p in found if "declared more than once (one.yaml, two.yaml)" in p]) == 2


def test_secret_refs_are_checked(tmp_path: Path) -> None:
    """A secretRef must be NAME/KEY and stand alone."""
    text = VALID.replace('pageSize: "10"', "pageSize: {secretRef: nokey}")
    assert any(
        "/secretRef: must be NAME/KEY" in p for p in problems_of(tree(tmp_path, {"a.yaml": text}))
    )


@pytest.mark.parametrize("reference", ["_db/pw", "db/.pw", "d b/pw", "db/pw\u00e9"])
def test_secret_refs_the_resolver_would_refuse_are_problems_of_their_file(
    tmp_path: Path, reference: str
) -> None:
    """NAME/KEY is checked as the resolver reads it, so a bad one fails validation, not a write."""
    with pytest.raises(SecretError):
        SecretResolver(None, {})(reference)
    text = VALID.replace('pageSize: "10"', f"pageSize: {{secretRef: '{reference}'}}")
    pointer = "/spec/task_detail/sourceSelectedDatasource/bodyRaw/pageSize/secretRef"
    assert problems_of(tree(tmp_path, {"a.yaml": text})) == (
        f"a.yaml:15: {pointer}: must be NAME/KEY",
    )


@pytest.mark.parametrize("value", ["a/b", "x" * 65, "caf\u00e9"])
def test_metadata_ids_follow_the_rule_for_ids_in_urls(tmp_path: Path, value: str) -> None:
    """An id a URL path would refuse is a problem at /metadata, said with the same rule."""
    with pytest.raises(InvalidIdentifierError):
        check_id("task_id", value)
    text = VALID.replace("  instance_id: ", f"  id: '{value}'\n  instance_id: ")
    assert problems_of(tree(tmp_path, {"a.yaml": text})) == (
        f"a.yaml:6: /metadata/id: an id is {ID_RULE}",
    )


def test_invalid_reload_keeps_nothing_and_fix_recovers(tmp_path: Path) -> None:
    """An edit that breaks a file fails the load; fixing it loads again, re-reading only it."""
    root = tree(tmp_path, {"a.yaml": VALID, "b.yaml": VALID.replace("orders-", "invoices-")})
    loader = DesiredStateLoader(root)
    first = loader.load()
    (root / "a.yaml").write_text("kind: [", encoding="utf-8")
    with pytest.raises(DesiredStateError):
        loader.load()
    (root / "a.yaml").write_text(VALID.replace("orders to reporting", "orders"), encoding="utf-8")
    second = loader.load()
    before = {r.source: r for r in first.resources}
    after = {r.source: r for r in second.resources}
    assert after["b.yaml"] is before["b.yaml"]  # not parsed again
    assert after["a.yaml"] != before["a.yaml"]


def test_unchanged_files_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload reads only the files whose size, mtime or inode changed."""
    root = tree(tmp_path, {"a.yaml": VALID, "b.yaml": VALID.replace("orders-", "invoices-")})
    loader = DesiredStateLoader(root)
    loader.load()
    read: list[int] = []
    real_read = OpenedFile.read

    def counting_read(self: OpenedFile, limit: int) -> bytes:
        data = real_read(self, limit)
        read.append(len(data))
        return data

    monkeypatch.setattr(OpenedFile, "read", counting_read)
    loader.load()
    assert read == []
    changed = VALID.replace("orders to reporting", "orders")
    (root / "a.yaml").write_text(changed, encoding="utf-8")
    loader.load()
    assert read == [len(changed.encode())]


def test_hidden_directories_and_other_files_are_skipped(tmp_path: Path) -> None:
    """Only *.yaml/*.yml outside hidden directories are desired state."""
    root = tree(tmp_path, {"a.yaml": VALID, ".git/x.yaml": "nonsense: [", "README.md": "# hi"})
    assert len(DesiredStateLoader(root).load().resources) == 1


def test_git_revision_is_read_from_the_checkout(tmp_path: Path) -> None:
    """The revision is the commit checked out, also for packed refs and worktrees."""
    root = tree(tmp_path / "repo", {"a.yaml": VALID})

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-qm", "first")
    head = git("rev-parse", "HEAD")
    assert DesiredStateLoader(root).load().revision == head
    git("pack-refs", "--all")
    assert git_revision(root) == head
    git("worktree", "add", "-q", "--detach", str(tmp_path / "wt"))
    assert git_revision(tmp_path / "wt") == head


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    """A desired-state root that does not exist is reported, not taken as empty."""
    with pytest.raises(DesiredStateError, match="not a directory"):
        DesiredStateLoader(tmp_path / "nope").load()


def test_a_switched_symlink_is_followed_and_unchanged_files_are_not_parsed_again(
    tmp_path: Path,
) -> None:
    """git-sync style: `current` moves to a new worktree; same bytes, same parsed resource."""
    first = tree(tmp_path / "wt1", {"a.yaml": VALID})
    second = tree(
        tmp_path / "wt2", {"a.yaml": VALID, "b.yaml": VALID.replace("orders-", "invoices-")}
    )
    current = tmp_path / "current"
    current.symlink_to(first)
    loader = DesiredStateLoader(current)
    (before,) = loader.load().resources
    current.unlink()
    current.symlink_to(second)
    after = {r.source: r for r in loader.load().resources}
    assert set(after) == {"a.yaml", "b.yaml"}
    assert after["a.yaml"] is before
