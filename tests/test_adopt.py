"""`fdi-drift adopt`: live changes written into the desired files, and committed for review."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.adopt import AdoptError, GitError, SecretReason, adopt
from fdi_drift.adopt_commit import commit
from fdi_drift.cloud.transports import in_process
from fdi_drift.demo import SAMPLES
from fdi_drift.drift.model import ChangeOp, Status
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.kinds.fdi_composite_task import KIND as FDI_COMPOSITE_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime
from tests.conftest import (
    API_TASK,
    INSTANCE,
    PROJECT,
    TOKEN,
    export_instance,
    put_task,
    settings_for,
)

RuntimeFactory = Callable[..., Runtime]
NAME = "fdi_task_v2mysql-tomysql"
JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"
JOB_NAME = "orders-sync-prod"
COMPOSITE = "5c0e7d2a9b3f4e61a8d47f1b2c3e9a60"
FDI = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}"
SELECTED = [Selector.parse(f"FdiTask/{NAME}")]

# Seed 000's task as a person keeps it: comments, blank lines, odd quoting and spacing, a flow
# mapping for the task, `bodyRaw` (JSON inside a string) declared decoded, a list mixing flow
# and block items, and a secret by reference.
COMMENTED = """\
# The CMDB nodes API into MySQL: owned by the platform team.
apiVersion: fdi-drift/v1
kind: FdiTask
metadata:
  name: fdi_task_v2mysql-tomysql   # bound by name
  project_id: "c53626012ba84727b938ca8bf03108ef"
  instance_id: 'fae7ff6c-8e07-4cf8-9e67-589cab2f017c'

spec:
  task: { task_type: timing,  description: "mysql", task_tag: 'fdi_autotest' }

  task_detail:
    # How the source API pages.
    sourceSelectedDatasource:
      bodyRaw: {pageNum: '1', pageSize: "10"}   # JSON in a string, declared decoded
      page_size:   '10'
      apiPassword: {secretRef: nodes-api/password}

      sourceParams:
      - {keys: pageNum, value: '0'}
      - keys: pageSize
        value: "10"     # keep in step with page_size
      - {keys: beginTime, value: '1'}
      - {keys: endTime, value: '1'}
      sourceHeaders: []
"""


def source(document: dict[str, Any]) -> dict[str, Any]:
    """The source settings of a decoded task document, for edits."""
    found: dict[str, Any] = document["task_detail"]["sourceSelectedDatasource"]
    return found


@pytest.fixture
async def declared(api: httpx.AsyncClient, desired_dir: Path) -> Path:
    """The commented file, declaring seed 000's task, which holds a password live."""
    await put_task(api, API_TASK, lambda d: source(d).update(apiPassword="s3cret"))
    path = desired_dir / PROJECT / INSTANCE / "nodes.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    return path


async def statuses(runtime: Runtime) -> dict[str, Any]:
    """Each declared resource's status after reloading the tree and checking."""
    await runtime.reload(strict=True)
    report = await runtime.check()
    assert report is not None
    return {status.key.name: status for status in report.statuses}


def text_of(path: Path) -> str:
    """A file's text (a small read in a test, not worth a thread)."""
    return path.read_text()


def write(path: Path, text: str) -> None:
    """Replace a file's text."""
    path.write_text(text)


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old, new) of each changed line, for edits that keep the number of lines."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


async def test_one_adopted_field_changes_one_line_and_is_then_in_sync(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """The description a person changed live replaces the declared one; all else stays."""
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="mysql, hourly"))
    assert (await statuses(runtime))[NAME].status is Status.DRIFTED

    result = await adopt(runtime, SELECTED)

    (adopted,) = result.files
    assert adopted.adopted == ("/task/description",)
    after = text_of(declared)
    assert after == adopted.new_text
    line = "  task: { task_type: timing,  description: %s, task_tag: 'fdi_autotest' }"
    assert changed_lines(COMMENTED, after) == [(line % '"mysql"', line % '"mysql, hourly"')]
    assert result.diff().startswith(
        f"--- {PROJECT}/{INSTANCE}/nodes.yaml\n+++ {PROJECT}/{INSTANCE}/nodes.yaml\n"
    )
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_a_key_inside_a_json_string_is_adopted_where_the_file_declares_it(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """bodyRaw is JSON inside task_detail's JSON: its key is a key of the declared mapping."""

    def page_size(document: dict[str, Any]) -> None:
        body = json.loads(source(document)["bodyRaw"])
        source(document)["bodyRaw"] = json.dumps({**body, "pageSize": "25"})

    runtime = make_runtime()
    await put_task(api, API_TASK, page_size)

    result = await adopt(runtime, SELECTED)

    assert result.files[0].adopted == ("/task_detail/sourceSelectedDatasource/bodyRaw/pageSize",)
    line = "      bodyRaw: {pageNum: '1', pageSize: %s}   # JSON in a string, declared decoded"
    assert changed_lines(COMMENTED, text_of(declared)) == [(line % '"10"', line % '"25"')]
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_a_declared_secret_is_never_written_and_is_reported(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """A changed live password is the secret store's to follow: its reference is reported."""

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "rotated"
        source(document)["apiPassword"] = "n3w-s3cret"

    runtime = make_runtime()
    await put_task(api, API_TASK, edit)

    result = await adopt(runtime, SELECTED)

    (adopted,) = result.files
    assert adopted.adopted == ("/task/description",)
    pointer = "/spec/task_detail/sourceSelectedDatasource/apiPassword"
    assert [(s.pointer, s.reference, s.reason) for s in adopted.secrets] == [
        (pointer, "nodes-api/password", SecretReason.DECLARED)
    ]
    assert "      apiPassword: {secretRef: nodes-api/password}\n" in text_of(declared)
    shown = result.diff() + result.summary() + repr(result)
    assert "n3w-s3cret" not in shown and "s3cret" not in shown
    assert result.summary().endswith(
        "update these in the secret store:\n"
        f"  nodes-api/password ({PROJECT}/{INSTANCE}/nodes.yaml {pointer}: "
        "declared secret reference)\n"
    )


async def test_secret_looking_and_masked_live_values_become_references(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """Headers live gained are written with their token and masked value as references."""
    headers = [
        {"headerName": "X-Api-Key", "apiToken": "tok-123"},
        {"headerName": "X-Other", "value": "******"},
    ]
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: source(d).update(sourceHeaders=headers))

    result = await adopt(runtime, SELECTED)

    (adopted,) = result.files
    assert adopted.adopted == (
        "/task_detail/sourceSelectedDatasource/sourceHeaders/0",
        "/task_detail/sourceSelectedDatasource/sourceHeaders/1",
    )
    text = text_of(declared)
    assert "tok-123" not in text and "******" not in text
    headers_pointer = "/spec/task_detail/sourceSelectedDatasource/sourceHeaders"
    token = f"{NAME}/task_detail.sourceSelectedDatasource.sourceHeaders.0.apiToken"
    masked = f"{NAME}/task_detail.sourceSelectedDatasource.sourceHeaders.1.value"
    assert [(s.pointer, s.reference, s.reason) for s in adopted.secrets] == [
        (
            "/spec/task_detail/sourceSelectedDatasource/apiPassword",
            "nodes-api/password",
            SecretReason.DECLARED,
        ),
        (f"{headers_pointer}/0/apiToken", token, SecretReason.SECRET_LOOKING_KEY),
        (f"{headers_pointer}/1/value", masked, SecretReason.MASKED),
    ]
    assert "tok-123" not in result.diff() + result.summary()
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_only_the_fields_named_are_adopted(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """With --field, the other drifted fields stay drifted and their lines as they were."""

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "hand edit"
        source(document)["page_size"] = "50"

    runtime = make_runtime()
    await put_task(api, API_TASK, edit)

    result = await adopt(runtime, SELECTED, ["/task_detail/sourceSelectedDatasource"])

    assert result.files[0].adopted == ("/task_detail/sourceSelectedDatasource/page_size",)
    assert changed_lines(COMMENTED, text_of(declared)) == [
        ("      page_size:   '10'", "      page_size:   '50'")
    ]
    left = (await statuses(runtime))[NAME]
    assert [change.pointer for change in left.changes] == ["/task/description"]


async def test_a_field_naming_no_drift_is_an_error_and_nothing_is_written(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """A --field that names nothing drifted (a typo, say) stops the whole adopt."""
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="hand edit"))

    with pytest.raises(AdoptError, match="no drifted field") as refused:
        await adopt(runtime, SELECTED, ["/task/description", "/task/descripton"])

    assert refused.value.problems == ("/task/descripton",)
    assert text_of(declared) == COMMENTED


async def test_a_field_live_lacks_is_removed_from_the_file(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """ABSENT: the declaration goes, with its own line only."""
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: source(d).pop("page_size"))
    change = (await statuses(runtime))[NAME].changes[0]
    assert (change.pointer, change.op) == (
        "/task_detail/sourceSelectedDatasource/page_size",
        ChangeOp.ABSENT,
    )

    await adopt(runtime, SELECTED)

    assert text_of(declared) == COMMENTED.replace("      page_size:   '10'\n", "")
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_items_live_has_more_of_are_added_to_the_list(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """EXTRA: the declared list is written whole, with live's new item after the others."""
    runtime = make_runtime()
    await put_task(
        api, API_TASK, lambda d: source(d)["sourceParams"].append({"keys": "region", "value": "eu"})
    )

    result = await adopt(runtime, SELECTED)

    assert result.files[0].adopted == ("/task_detail/sourceSelectedDatasource/sourceParams/4",)
    after = text_of(declared)
    assert "      - keys: region\n        value: eu\n      sourceHeaders: []\n" in after
    assert after.startswith(COMMENTED.split("      sourceParams:")[0])  # above it, as it was
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_a_value_is_written_in_the_spelling_the_file_uses(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path
) -> None:
    """The kind compares task types in upper case; the file's lower case is kept."""
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(task_type="REALTIME"))

    await adopt(runtime, SELECTED)

    assert changed_lines(COMMENTED, text_of(declared))[0][1].startswith(
        "  task: { task_type: realtime,  description"
    )
    assert (await statuses(runtime))[NAME].status is Status.IN_SYNC


async def test_nothing_drifted_is_nothing_to_adopt(
    make_runtime: RuntimeFactory, declared: Path
) -> None:
    """An in-sync resource leaves its file alone; a selector matching nothing is an error."""
    runtime = make_runtime()
    result = await adopt(runtime, SELECTED)
    assert result.files == ()
    assert result.diff() == ""
    assert result.summary() == "Nothing to adopt: the selected resources are in sync.\n"
    with pytest.raises(AdoptError, match="no declared resource matches") as refused:
        await adopt(runtime, [Selector.parse("FdiTask/nobody")])
    assert refused.value.problems == ("FdiTask/nobody",)
    assert text_of(declared) == COMMENTED


async def test_a_field_the_file_does_not_declare_is_refused(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, desired_dir: Path
) -> None:
    """A task bound by id and renamed live: the name follows metadata, to change by hand."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, lambda d: d["task"].update(task_name="renamed-task"))
    path = desired_dir / PROJECT / INSTANCE / f"{NAME}.yaml"
    before = path.read_text()

    with pytest.raises(AdoptError, match="/task/task_name: not declared in the file's spec"):
        await adopt(runtime, SELECTED)

    assert path.read_text() == before


@pytest.fixture
def samples() -> Emulator:
    """The demo's cloud, which holds a DRS job."""
    return Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})))


async def test_numbers_stay_numbers_where_the_kind_compares_them_as_strings(
    samples: Emulator, desired_dir: Path
) -> None:
    """A DRS job declaring `expired_days: 14` and `speed: 50` keeps numbers (the API says "21")."""
    runtime = Runtime(
        settings_for(desired_dir),
        transport=in_process(samples),
        metrics=DaemonMetrics(CollectorRegistry(), version="test"),
    )
    (exported,) = await export_resources(
        runtime.drivers, catalog.specs(), [(DRS_JOB, Scope(PROJECT))], desired_dir
    )
    numbers = text_of(exported.path).replace('"14"', "14").replace('speed: "50"', "speed: 50")
    write(exported.path, numbers)
    assert (await statuses(runtime))[JOB_NAME].status is Status.IN_SYNC
    updates = {
        "expired_days": {"base_info": {"expired_days": "21"}},
        "speed_limit": {"speed_limit": [{"begin": "01:00", "end": "06:59", "speed": "500"}]},
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=samples), headers={"X-Auth-Token": TOKEN}
    ) as http:
        for kind, params in updates.items():
            body = {"job": {"type": kind, "params": params}}
            answer = await http.put(f"http://drs.test/v5/{PROJECT}/jobs/{JOB}", json=body)
            assert answer.status_code == 200, answer.text

    await adopt(runtime, [Selector.parse(f"DrsJob/{JOB_NAME}")])

    assert changed_lines(numbers, text_of(exported.path)) == [
        ("    expired_days: 14", "    expired_days: 21"),
        ("      speed: 50", "      speed: 500"),
    ]
    assert (await statuses(runtime))[JOB_NAME].status is Status.IN_SYNC


async def test_a_list_the_kind_compares_in_its_own_order_is_written_whole(
    samples: Emulator, desired_dir: Path
) -> None:
    """Operation types are a set: the file's order is not the compared one, so the list that
    changed is written as live holds it rather than item by item."""
    runtime = Runtime(
        settings_for(desired_dir),
        transport=in_process(samples),
        metrics=DaemonMetrics(CollectorRegistry(), version="test"),
    )
    scope = Scope(PROJECT, INSTANCE)
    (exported,) = [
        item
        for item in await export_resources(
            runtime.drivers, catalog.specs(), [(FDI_COMPOSITE_TASK, scope)], desired_dir
        )
        if item.kind == FDI_COMPOSITE_TASK
    ]
    listed = "      - INSERT\n      - UPDATE\n      - DELETE\n"
    assert listed in text_of(exported.path)
    reordered = text_of(exported.path).replace(
        listed, "      - DELETE\n      - UPDATE\n      - INSERT\n"
    )
    write(exported.path, reordered)
    assert (await statuses(runtime))[exported.name].status is Status.IN_SYNC
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=samples), headers={"X-Auth-Token": TOKEN}
    ) as http:
        answer = await http.get(f"http://roma.test{FDI}/tasks/{COMPOSITE}")
        task = answer.json()["task"]
        body = {
            "operation_types": ["INSERT", "UPDATE"],
            "repulling_snapshot": False,
            "description": task["description"],
            "task_tag": task["task_tag"],
        }
        answer = await http.put(f"http://roma.test{FDI}/multi-tasks/{COMPOSITE}", json=body)
        assert answer.status_code == 200, answer.text

    await adopt(runtime, [Selector.parse(f"FdiCompositeTask/{exported.name}")])

    assert "      - INSERT\n      - UPDATE\n    source_app_id" in text_of(exported.path)
    assert (await statuses(runtime))[exported.name].status is Status.IN_SYNC


# Committing.


def git(repository: Path, *args: str) -> str:
    """git in the test repository, as its author."""
    done = subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=tester@example.com", *args],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repository(declared: Path, desired_dir: Path) -> Path:
    """A git repository holding the desired tree (and a README) in one commit."""
    top = desired_dir.parent
    (top / "README.md").write_text("Desired state of the nodes team.\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "config", "user.name", "Tester")
    git(top, "config", "user.email", "tester@example.com")
    git(top, "add", "README.md", str(declared.relative_to(top)))
    git(top, "commit", "-q", "-m", "Desired state")
    return top


async def test_a_commit_on_a_new_branch_holds_only_the_adopted_file(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path, repository: Path
) -> None:
    """One commit, on the new branch, of that file alone; unrelated edits stay uncommitted."""
    (repository / "README.md").write_text("Someone's edit in progress.\n")
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="mysql, hourly"))

    result = await adopt(runtime, SELECTED, write=False)
    assert text_of(declared) == COMMENTED  # written only once git's state is known
    made = commit(result, runtime.settings.desired_state, branch="adopt/nodes", message=None)

    assert git(repository, "rev-parse", "HEAD").strip() == made
    assert git(repository, "branch", "--show-current").strip() == "adopt/nodes"
    relative = f"desired/{PROJECT}/{INSTANCE}/nodes.yaml"
    assert git(repository, "show", "--name-only", "--format=", made).split() == [relative]
    assert git(repository, "rev-list", "--count", "main..adopt/nodes").strip() == "1"
    message = git(repository, "log", "-1", "--format=%B")
    assert message.startswith(f"Adopt live changes: FdiTask {NAME} /task/description\n")
    assert "nodes-api/password" in message  # the secret to look at, by reference
    assert git(repository, "status", "--porcelain").splitlines() == [" M README.md"]
    assert text_of(declared) == result.files[0].new_text


async def test_a_file_with_uncommitted_edits_is_refused(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path, repository: Path
) -> None:
    """Someone's uncommitted edit of the file is never committed; nothing is written."""
    edited = COMMENTED + "# a note nobody committed\n"
    write(declared, edited)
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="mysql, hourly"))
    result = await adopt(runtime, SELECTED, write=False)
    head = git(repository, "rev-parse", "HEAD")

    with pytest.raises(GitError, match="held changes that are not committed"):
        commit(result, runtime.settings.desired_state, branch="adopt/nodes", message="Adopt")

    assert text_of(declared) == edited
    assert git(repository, "rev-parse", "HEAD") == head
    assert git(repository, "branch", "--list", "adopt/nodes") == ""


async def test_an_existing_branch_is_refused_and_a_failed_commit_leaves_no_branch(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, declared: Path, repository: Path
) -> None:
    """A branch name in use is refused before anything; git's own refusal names the command."""
    git(repository, "branch", "taken")
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="mysql, hourly"))
    result = await adopt(runtime, SELECTED)

    with pytest.raises(GitError, match="branch 'taken' exists already"):
        commit(result, repository, branch="taken", message=None)
    with pytest.raises(GitError, match=r"git check-ref-format --branch bad\.\.name failed"):
        commit(result, repository, branch="bad..name", message=None)

    assert git(repository, "branch", "--show-current").strip() == "main"
    made = commit(result, repository, branch=None, message="Adopt the hourly schedule")
    assert git(repository, "log", "-1", "--format=%s", made).strip() == "Adopt the hourly schedule"
    assert git(repository, "status", "--porcelain") == ""


async def test_the_repository_s_hooks_and_signing_cannot_stop_or_hold_the_commit(
    make_runtime: RuntimeFactory, api: httpx.AsyncClient, repository: Path
) -> None:
    """A hook that fails (or would wait for someone) is not run; no signing prompt."""
    hook = repository / ".git" / "hooks" / "pre-commit"
    write(hook, "#!/bin/sh\ntouch hook-ran\nread answer\nexit 1\n")
    hook.chmod(0o755)
    git(repository, "config", "commit.gpgSign", "true")
    git(repository, "config", "user.signingKey", "nobody@example.com")
    runtime = make_runtime()
    await put_task(api, API_TASK, lambda d: d["task"].update(description="mysql, hourly"))

    made = commit(await adopt(runtime, SELECTED), repository, branch=None, message=None)

    assert git(repository, "rev-parse", "HEAD").strip() == made
    assert not (repository / "hook-ran").exists()
