"""Several targets in one daemon: each resource goes to its own target, and fails alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.cli import main
from fdi_drift.drift.model import CycleReport, Status, UnknownReason
from fdi_drift.drift.report import render_text, report_to_json
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.errors import ConfigError
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.service import Runtime
from fdi_drift.settings import Settings, load_settings, settings_from_mapping
from tests.conftest import (
    API_TASK,
    INSTANCE,
    MYSQL_TASK,
    PROJECT,
    TOKEN,
    seed_000_as_get,
    seed_002,
)
from tests.processes import cli, emulator_process, free_port, put, write_seeds

# The second region's project and instance, and each region's own token.
OTHER_PROJECT = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
OTHER_INSTANCE = "5d4c3b2a-1908-4776-a5b4-c3d2e1f00a1b"
TOKENS = {"cn-north-4": "token-of-beijing", "ap-southeast-1": "token-of-hong-kong"}
HOSTS = {"cn-north-4": "beijing.test", "ap-southeast-1": "hong-kong.test"}


class ByHost(httpx.AsyncBaseTransport):
    """Sends each request to the in-process emulator that plays its host's region."""

    def __init__(self, emulators: dict[str, Emulator]) -> None:
        self._transports = {
            host: httpx.ASGITransport(app=emulator) for host, emulator in emulators.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[request.url.host].handle_async_request(request)


@pytest.fixture
def regions() -> dict[str, Emulator]:
    """Two emulated regions, each with its own token, project, instance and tasks."""
    beijing = Emulator(EmulatorConfig(tokens=frozenset({TOKENS["cn-north-4"]})))
    beijing.store.add_task(PROJECT, INSTANCE, seed_002())
    beijing.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    hong_kong = Emulator(EmulatorConfig(tokens=frozenset({TOKENS["ap-southeast-1"]})))
    elsewhere = copy.deepcopy(seed_002())
    elsewhere["task"]["project_id"] = OTHER_PROJECT
    hong_kong.store.add_task(OTHER_PROJECT, OTHER_INSTANCE, elsewhere)
    return {"cn-north-4": beijing, "ap-southeast-1": hong_kong}


def target(region: str, project: str, **extra: Any) -> dict[str, Any]:
    url = f"http://{HOSTS[region]}"
    return {
        "region": region,
        "projects": [project],
        "endpoints": {"fdi": url, "drs": url, "iam": url},
        "auth": {"token_env": f"TOKEN_{region.replace('-', '_').upper()}"},
        **extra,
    }


def two_targets(desired: Path, tokens: dict[str, str] = TOKENS) -> Settings:
    raw = {
        "desired_state": str(desired),
        "targets": [
            target("cn-north-4", PROJECT, account="acme"),
            target("ap-southeast-1", OTHER_PROJECT),
        ],
        "retry_attempts": 1,
        "request_timeout_seconds": 2.0,
        "audit_log": str(desired.parent / "audit.jsonl"),
    }
    environ = {f"TOKEN_{r.replace('-', '_').upper()}": token for r, token in tokens.items()}
    return settings_from_mapping(raw, base_dir=desired.parent, environ=environ)


def over(regions: dict[str, Emulator], desired: Path, tokens: dict[str, str] = TOKENS) -> Runtime:
    """A runtime with both targets, talking to the emulated regions in process."""
    desired.mkdir(exist_ok=True)
    emulators = {HOSTS[region]: emulator for region, emulator in regions.items()}
    return Runtime(two_targets(desired, tokens), transport=ByHost(emulators))


async def exported_and_checked(runtime: Runtime, desired: Path) -> CycleReport:
    scopes = [Scope(PROJECT, INSTANCE), Scope(OTHER_PROJECT, OTHER_INSTANCE)]
    await export_resources(
        runtime.drivers, runtime.specs, [(FDI_TASK, scope) for scope in scopes], desired
    )
    assert await runtime.reload() is not None
    report = await runtime.check()
    assert report is not None
    return report


def places(report: CycleReport) -> dict[str, tuple[Status, str, str]]:
    return {
        s.key.project_id + "/" + s.key.name: (s.status, s.region, s.account)
        for s in report.statuses
    }


async def test_each_resource_is_read_through_its_own_target(
    regions: dict[str, Emulator], tmp_path: Path
) -> None:
    """Each region's tasks are read with its token at its endpoint, and carry its region."""
    desired = tmp_path / "desired"
    runtime = over(regions, desired)
    report = await exported_and_checked(runtime, desired)
    await runtime.aclose()
    assert places(report) == {
        f"{PROJECT}/fdi_task_pzy4m5": (Status.IN_SYNC, "cn-north-4", "acme"),
        f"{PROJECT}/fdi_task_v2mysql-tomysql": (Status.IN_SYNC, "cn-north-4", "acme"),
        f"{OTHER_PROJECT}/fdi_task_pzy4m5": (Status.IN_SYNC, "ap-southeast-1", ""),
    }
    for region, emulator in regions.items():
        seen = {r.path.split("/")[2] for r in emulator.requests}
        assert seen == {PROJECT if region == "cn-north-4" else OTHER_PROJECT}
    # Reports say where each resource is served once there is more than one target.
    (row,) = [r for r in report_to_json(report)["resources"] if r["project_id"] == OTHER_PROJECT]
    assert (row["region"], row["account"]) == ("ap-southeast-1", None)
    text = render_text(report, show_in_sync=True)
    assert f"in {PROJECT}/{INSTANCE} [acme/cn-north-4]: in sync" in text
    assert f"in {OTHER_PROJECT}/{OTHER_INSTANCE} [ap-southeast-1]: in sync" in text
    registry = runtime.metrics.registry
    drifted = registry.get_sample_value(
        "fdi_drift_resource_drifted",
        {
            "kind": "FdiTask",
            "region": "ap-southeast-1",
            "account": "",
            "project_id": OTHER_PROJECT,
            "instance_id": OTHER_INSTANCE,
            "resource": seed_002()["task"]["task_id"],
            "name": "fdi_task_pzy4m5",
            "shard": "0",
        },
    )
    assert drifted == 0
    requests = registry.get_sample_value(
        "fdi_drift_api_requests_total",
        {"region": "ap-southeast-1", "service": "fdi", "method": "GET", "code": "200"},
    )
    assert requests == len(regions["ap-southeast-1"].requests)


async def test_a_target_whose_credentials_fail_fails_alone(
    regions: dict[str, Emulator], tmp_path: Path
) -> None:
    """A rejected token makes only its target's resources unknown; the other is judged."""
    desired = tmp_path / "desired"
    runtime = over(regions, desired)
    await exported_and_checked(runtime, desired)
    await runtime.aclose()
    wrong = {**TOKENS, "ap-southeast-1": "a-token-hong-kong-does-not-know"}
    runtime = over(regions, desired, wrong)
    assert await runtime.reload() is not None
    report = await runtime.check()
    await runtime.aclose()
    assert report is not None
    statuses = {(s.key.project_id, s.status, s.cause) for s in report.statuses}
    assert statuses == {
        (PROJECT, Status.IN_SYNC, None),
        (OTHER_PROJECT, Status.UNKNOWN, UnknownReason.LIST_FAILED),
    }
    assert not report.complete
    # Each region saw only its own target's token: every answer 200 in one, 401 in the other.
    assert {r.status for r in regions["cn-north-4"].requests} == {200}
    assert {r.status for r in regions["ap-southeast-1"].requests[-1:]} == {401}


async def test_a_project_no_target_serves_is_unknown_with_the_reason(
    regions: dict[str, Emulator], tmp_path: Path
) -> None:
    """A declared project that no target names is unknown, saying so, never missing."""
    desired = tmp_path / "desired"
    runtime = over(regions, desired)
    (desired / "stray.yaml").write_text(
        "apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: stray\n"
        "  project_id: ffffffffffffffffffffffffffffffff\n  instance_id: i-1\n"
    )
    assert await runtime.reload() is not None
    report = await runtime.check()
    await runtime.aclose()
    assert report is not None
    (stray,) = report.statuses
    assert (stray.status, stray.cause, stray.region) == (
        Status.UNKNOWN,
        UnknownReason.LIST_FAILED,
        "",
    )
    assert "no configured target serves project ffffffffffffffffffffffffffffffff" in stray.reason


async def test_each_target_has_its_own_clients(tmp_path: Path) -> None:
    """Connection pools and rate limits are per target and service: one client for each."""
    runtime = Runtime(two_targets(tmp_path))
    fleet = runtime.fleet
    first, second = fleet.targets
    clients = {id(fleet.api(s.name, t)) for t in (first, second) for s in catalog.services()}
    await runtime.aclose()
    assert len(clients) == 2 * len(catalog.services())


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "region: cn-north-4\ntargets:\n  - region: cn-north-4\n",
            r"config.yaml:1: region: goes inside each entry of targets:",
        ),
        ("targets: []\n", "targets: must be a non-empty list"),
        ("targets:\n  - account: a\n", r"config.yaml:2: targets\[0\].region: is required"),
        (
            "targets:\n  - region: r1\n    projects: [p1]\n  - region: r2\n    projects: [p1]\n",
            r"config.yaml:5: targets\[1\].projects: project p1 is served by targets\[0\] already",
        ),
        (
            "targets:\n  - region: r1\n  - region: r2\n",
            r"targets\[1\].projects: required: targets\[0\] already serves every project",
        ),
        (
            "targets:\n  - region: r1\n    regoin: r2\n",
            r"config.yaml:3: targets\[0\].regoin: unknown key",
        ),
        (
            "targets:\n  - region: r1\n    projects: [p1, p2]\n"
            "    auth: {iam_password: {domain: d, user: u, password_file: pw}}\n",
            r"targets\[0\].auth.iam_password.project_id: is required",
        ),
        (
            "targets:\n  - region: r1\n    projects: ['../x']\n",
            r"targets\[0\].projects: .*project_id",
        ),
        (
            "targets:\n  - region: r1\n    endpoints: {fdi: ftp://x}\n",
            r"targets\[0\].endpoints.fdi: must be an http",
        ),
        (
            "targets:\n  - region: evil.example.com/x\n",
            r"targets\[0\].region: 'evil.example.com/x' is not a region name",
        ),
        ("region: 'cn-north-4.evil'\n", r"config.yaml:1: region: .* is not a region name"),
        (
            "targets:\n  - region: r1\n    account: 'acme prod'\n",
            r"config.yaml:3: targets\[0\].account: 1-64 letters",
        ),
    ],
)
def test_bad_targets_name_the_entry_and_key(tmp_path: Path, text: str, message: str) -> None:
    """Each mistake in `targets:` is an error naming the file, line, entry and key."""
    with pytest.raises(ConfigError, match=message):
        load_settings(write_config(tmp_path, text), environ={})


def test_an_iam_login_takes_its_targets_only_project(tmp_path: Path) -> None:
    """In a target with one project, an IAM password login is scoped to it by default."""
    text = (
        "targets:\n  - region: eu-west-101\n    projects: [p1]\n"
        "    auth: {iam_password: {domain: d, user: u, password_file: pw}}\n"
    )
    (only,) = load_settings(write_config(tmp_path, text), environ={}).targets
    assert only.auth.project_id == "p1"  # type: ignore[union-attr]
    assert only.endpoints["iam"] == "https://iam.eu-west-101.myhuaweicloud.com"


def test_check_names_the_credentials_of_the_failing_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --output json` lists every target; text names only the failing one's credentials."""
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the list fails
    desired = tmp_path / "desired"
    desired.mkdir()
    (desired / "a.yaml").write_text(
        f"apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: task-a\n"
        f"  project_id: {OTHER_PROJECT}\n  instance_id: {OTHER_INSTANCE}\n"
    )
    config = {
        "desired_state": "desired",
        "retry_attempts": 1,
        "request_timeout_seconds": 0.5,
        "targets": [
            {
                **target("cn-north-4", PROJECT, account="acme"),
                "auth": {"token_file": "a"},
                "endpoints": {"fdi": closed, "drs": closed, "iam": closed},
            },
            {
                **target("ap-southeast-1", OTHER_PROJECT),
                "auth": {"token_file": "b"},
                "endpoints": {"fdi": closed, "drs": closed, "iam": closed},
            },
        ],
    }
    (tmp_path / "a").write_text("secret-a")
    (tmp_path / "b").write_text("secret-b")
    path = write_config(tmp_path, json.dumps(config))
    assert main(["check", "-c", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"Credentials in use for ap-southeast-1: token file {tmp_path / 'b'}." in out
    assert "acme/cn-north-4" not in out and "secret-" not in out
    assert main(["check", "-c", str(path), "--output", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert [(t["account"], t["region"], t["projects"]) for t in body["targets"]] == [
        ("acme", "cn-north-4", [PROJECT]),
        (None, "ap-southeast-1", [OTHER_PROJECT]),
    ]


@pytest.mark.slow
def test_two_regions_with_their_own_keys_as_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two emulator processes play two regions with different keys; `check` judges each alone."""
    beijing_seeds = write_seeds(
        tmp_path / "beijing", PROJECT, INSTANCE, seed_002(), seed_000_as_get()
    )
    elsewhere = copy.deepcopy(seed_002())
    elsewhere["task"]["project_id"] = OTHER_PROJECT
    hong_kong_seeds = write_seeds(tmp_path / "hong-kong", OTHER_PROJECT, OTHER_INSTANCE, elsewhere)
    keys = {"BJ": ("AKBEIJING0001", "sk-of-beijing-7f3a"), "HK": ("AKHONGKONG002", "sk-of-hk-91c2")}
    for name, (ak, sk) in keys.items():
        monkeypatch.setenv(f"{name}_AK", ak)
        monkeypatch.setenv(f"{name}_SK", sk)
    hong_kong = emulator_process(hong_kong_seeds, "--key-pair", ":".join(keys["HK"]))
    with (
        emulator_process(beijing_seeds, "--key-pair", ":".join(keys["BJ"]), "--token", TOKEN) as bj,
        hong_kong as hk,
    ):

        def entry(region: str, project: str, url: str, key: str, **extra: Any) -> dict[str, Any]:
            return {
                "region": region,
                "projects": [project],
                "endpoints": {"fdi": url, "drs": url, "iam": url},
                "auth": {"aksk": {"ak_env": f"{key}_AK", "sk_env": f"{key}_SK"}},
                **extra,
            }

        config = write_config(
            tmp_path,
            json.dumps(
                {
                    "desired_state": "desired",
                    "retry_attempts": 1,
                    "request_timeout_seconds": 2,
                    "targets": [
                        entry("cn-north-4", PROJECT, bj, "BJ", account="acme"),
                        entry("ap-southeast-1", OTHER_PROJECT, hk, "HK"),
                    ],
                }
            ),
        )
        scopes = [
            "--scope",
            f"{PROJECT}/{INSTANCE}",
            "--scope",
            f"{OTHER_PROJECT}/{OTHER_INSTANCE}",
        ]
        exported = cli("export", "-c", str(config), "--out", str(tmp_path / "desired"), *scopes)
        assert exported.returncode == 0, exported.stderr
        assert "3 files written" in exported.stdout
        put(bj, API_TASK, "edited in Beijing")
        drifted = cli("check", "-c", str(config), "--output", "json")
        assert drifted.returncode == 2, drifted.stderr
        rows = {
            (r["region"], r["account"], r["id"], r["status"])
            for r in json.loads(drifted.stdout)["resources"]
        }
        assert rows == {
            ("cn-north-4", "acme", API_TASK, "drifted"),
            ("cn-north-4", "acme", MYSQL_TASK, "in_sync"),
            ("ap-southeast-1", None, MYSQL_TASK, "in_sync"),
        }
    # Hong Kong is gone (its process stopped) while Beijing still answers: only it is unknown.
    with emulator_process(beijing_seeds, "--key-pair", ":".join(keys["BJ"])) as bj:
        text = json.loads(config.read_text())
        text["targets"][0]["endpoints"] = {"fdi": bj, "drs": bj, "iam": bj}
        config.write_text(json.dumps(text))
        partial = cli("check", "-c", str(config))
    assert partial.returncode == 1, partial.stderr
    assert f"in {OTHER_PROJECT}/{OTHER_INSTANCE} [ap-southeast-1]: unknown" in partial.stdout
    assert "Credentials in use for ap-southeast-1: AK/SK from environment variables" in (
        partial.stdout
    )
    assert "acme/cn-north-4]: unknown" not in partial.stdout
    shown = exported.stdout + exported.stderr + drifted.stdout + drifted.stderr + partial.stdout
    assert not any(sk in shown + partial.stderr for _, sk in keys.values())
