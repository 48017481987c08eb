"""`fdi-drift demo`: the whole loop on the built-in emulator, in one command.

The emulator starts with the sample tasks that `desired_state/` declares, somebody edits one of
them through the FDI API (a PUT, as a person with the console or curl would), and one check
cycle reports exactly what changed, down to a field inside a nested JSON string.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from fdi_drift import emulator as emulator_package
from fdi_drift.cloud.cts import SERVICE as CTS
from fdi_drift.cloud.drs import SERVICE as DRS
from fdi_drift.cloud.drs import DrsClient
from fdi_drift.cloud.endpoints import Endpoints
from fdi_drift.cloud.fdi import SERVICE as FDI
from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.cloud.iam import SERVICE as IAM
from fdi_drift.cloud.payloads import TaskBasicRequestBody, UpdateTaskBody
from fdi_drift.cloud.transports import in_process
from fdi_drift.credentials import TokenEnvAuth
from fdi_drift.drift.model import ReconcileMode
from fdi_drift.drift.report import render_text
from fdi_drift.emulator.app import Emulator, EmulatorConfig, serve
from fdi_drift.kinds import catalog
from fdi_drift.plan import render_plan
from fdi_drift.reconciler import Rails
from fdi_drift.schedule import Schedule
from fdi_drift.server import Listen
from fdi_drift.service import Runtime, run_daemon
from fdi_drift.settings import DEFAULT_REGION, Settings
from fdi_drift.targets import Target

SAMPLES = Path(emulator_package.__file__).parent / "samples"
PROJECT_ID = "c53626012ba84727b938ca8bf03108ef"
INSTANCE_ID = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
EDITED_TASK = "nodes-api-to-oracle"
EDITED_COMPOSITE = "5c0e7d2a9b3f4e61a8d47f1b2c3e9a60"  # orders-cdc-mysql-to-dws
EDITED_JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"  # orders-sync-prod
# Not a secret: the emulator accepts it and nothing else does.
DEMO_TOKEN = "demo-token-for-the-local-emulator"  # noqa: S105


def sample_desired_state() -> Path:
    """The sample desired state shipped in the package: what the emulator's samples declare."""
    return Path(str(files("fdi_drift") / "samples" / "desired_state"))


async def run_demo(
    desired_root: Path | None = None, *, serve_after: bool = False, port: int = 9108
) -> int:
    """Run the demo; with `serve_after`, keep daemon and emulator up until interrupted.

    `desired_root` None: ./desired_state where there is one (the repository), else the sample
    shipped in the package, so that the demo runs from anywhere.
    """
    if desired_root is None:
        local = Path("desired_state")
        desired_root = local if local.is_dir() else sample_desired_state()  # noqa: ASYNC240
    if not desired_root.is_dir():
        print(f"error: {desired_root}: no such directory", file=sys.stderr)
        return 1
    workspace = _workspace(desired_root) if serve_after else None
    if workspace is not None:
        desired_root = workspace / "desired_state"
    emulator = Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({DEMO_TOKEN})))
    stop_emulator = asyncio.Event()
    emulator_task: asyncio.Task[None] | None = None
    if serve_after:
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        emulator_task = asyncio.create_task(
            serve(emulator, "127.0.0.1", 0, listening.set_result, stop=stop_emulator)
        )
        base_url = await listening
        transport = None
    else:
        base_url = "http://emulator.local"
        transport = in_process(emulator)
    settings = Settings(
        desired_state=desired_root,
        targets=(
            Target(
                region=DEFAULT_REGION,
                endpoints=Endpoints({s.name: base_url for s in (*catalog.services(), IAM, CTS)}),
                auth=TokenEnvAuth("FDI_DRIFT_TOKEN", DEMO_TOKEN),
            ),
        ),
        schedule=Schedule(interval_seconds=10.0, jitter_seconds=0.0),
        listen=Listen("127.0.0.1", port),
        rails=Rails(mode=ReconcileMode.DRY_RUN),
        history_db=None if workspace is None else workspace / "history.db",
        audit_log=Path("fdi-drift-audit.jsonl") if workspace is None else workspace / "audit.jsonl",
    )
    runtime = Runtime(settings, transport=transport)
    try:
        tasks = len(emulator.store.entries(PROJECT_ID, INSTANCE_ID))
        jobs = len(emulator.drs.jobs(PROJECT_ID))
        print(
            f"Started the cloud emulator with {tasks} FDI tasks (one composite) and {jobs} DRS"
            f" job from {SAMPLES.name}/."
        )
        await edit_like_a_person(FdiClient(runtime.api(FDI.name)), DrsClient(runtime.api(DRS.name)))
        if await runtime.reload() is None:
            print("error: the desired state is invalid; run `fdi-drift validate`", file=sys.stderr)
            return 1
        print(f"Checking them against {desired_root}/ ...\n")
        outcome = await runtime.cycle(mode=ReconcileMode.DRY_RUN)
        assert outcome is not None
        report, corrections = outcome
        print(render_text(report), end="")
        print("\nWhat `fdi-drift reconcile --apply` would send to correct them (dry run):\n")
        print(render_plan(corrections, applying=False, hints=False), end="")
        if not serve_after:
            print(
                "\nNext: `fdi-drift demo --serve` keeps the daemon running with metrics;"
                " `fdi-drift export` writes desired state from live tasks."
            )
            return 0

        assert workspace is not None
        config = _write_config(workspace, base_url)

        def announce(url: str) -> None:
            print(f"\nDaemon metrics: {url}/metrics  status page: {url}/  emulator: {base_url}")
            print(f"A configuration for trying every command against it: {config}")
            print(f"  for example: fdi-drift check -c {config}")
            print("Fix the task through the emulator's PUT and watch the next cycle. Ctrl-C stops.")
            sys.stdout.flush()

        await run_daemon(runtime, on_listening=announce)
        return 0
    finally:
        await runtime.aclose()
        stop_emulator.set()
        if emulator_task is not None:
            await emulator_task


async def edit_like_a_person(fdi: FdiClient, drs: DrsClient) -> None:
    """Hand edits through the APIs: a common task, a composite task and a DRS job."""
    await _edit_common_task(fdi)
    await fdi.update_multi_task(
        PROJECT_ID,
        INSTANCE_ID,
        EDITED_COMPOSITE,
        {
            "description": "Orders, items and customers from the shop MySQL into DWS,"
            " change data capture",
            "task_tag": "orders-cdc",
            "operation_types": ["INSERT", "UPDATE"],
            "repulling_snapshot": False,
        },
    )
    print("Someone stopped orders-cdc-mysql-to-dws replicating DELETEs (operation_types).")
    speed = [{"begin": "01:00", "end": "06:59", "speed": "200"}]
    await drs.update_job(PROJECT_ID, EDITED_JOB, "speed_limit", {"speed_limit": speed})
    print("Someone raised the night-time speed limit of DRS job orders-sync-prod to 200 MB/s.")


async def _edit_common_task(fdi: FdiClient) -> None:
    entries = await fdi.list_tasks(PROJECT_ID, INSTANCE_ID)
    task_id = next(e["task_id"] for e in entries if e.get("task_name") == EDITED_TASK)
    answer = await fdi.get_task(PROJECT_ID, INSTANCE_ID, task_id)
    task = answer["task"]
    detail = json.loads(answer["task_detail"])
    source = detail["sourceSelectedDatasource"]
    body_raw = json.loads(source["bodyRaw"])
    body_raw["pageSize"] = "500"
    source["bodyRaw"] = json.dumps(body_raw, separators=(",", ":"))
    source["page_size"] = "500"
    basic: TaskBasicRequestBody = {
        "task_name": task["task_name"],
        "task_type": task["task_type"].upper(),
        "source_datasource_id": task["source_datasource_id"],
        "target_datasource_id": task["target_datasource_id"],
        "description": "temporary: bigger pages while the backlog drains",
    }
    if task.get("task_tag"):
        basic["task_tag"] = task["task_tag"]
    body: UpdateTaskBody = {
        "task": basic,
        "task_detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
    }
    await fdi.update_task(PROJECT_ID, INSTANCE_ID, task_id, body)
    print(
        f"Someone edited {EDITED_TASK} through the FDI API: a new description, and pageSize"
        " 10 -> 500 inside the bodyRaw JSON string of its task_detail."
    )


def _workspace(desired_root: Path) -> Path:
    """A folder of its own for `demo --serve`: a copy of the desired state (commands may edit
    it), the history, the audit log and a configuration."""
    workspace = Path(tempfile.mkdtemp(prefix="fdi-drift-demo-"))
    shutil.copytree(desired_root, workspace / "desired_state")
    return workspace


def _write_config(workspace: Path, base_url: str) -> Path:
    """A configuration that points every command at the running emulator and the workspace."""
    token = workspace / "token"
    token.write_text(DEMO_TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    urls = "".join(f"  {name}: {base_url}\n" for name in ("fdi", "drs", "iam", "cts"))
    config = workspace / "config.yaml"
    config.write_text(
        "# Written by `fdi-drift demo --serve`: every command can be tried with -c this file.\n"
        "desired_state: desired_state\n"
        f"endpoints:\n{urls}"
        "auth: {token_file: token}\n"
        "rate_limit_per_second: 100\n"
        "history_db: history.db\n"
        "audit_log: audit.jsonl\n"
        "# `fdi-drift run -c` this file would need a port of its own beside the demo's daemon.\n"
        "listen: 127.0.0.1:9118\n",
        encoding="utf-8",
    )
    return config
