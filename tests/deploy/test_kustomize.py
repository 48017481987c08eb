"""The kustomize overlays: they render, validate against the Kubernetes schemas, and keep the
deployment's promises (restricted pod security, git-sync, probes, config) in each of observe,
reconcile and sharded. The sharded overlay's own promises are in test_sharded.py, those for
fleets (generated config, namespace, kube-prometheus-stack) in test_fleet.py."""

from __future__ import annotations

import copy
import importlib
import os
import re
from pathlib import Path, PurePosixPath
from types import ModuleType

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from fdi_drift.credentials import AkSkFileAuth
from fdi_drift.drift.model import ReconcileMode
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.server import create_app
from fdi_drift.status_views import DaemonState
from tests.deploy.manifests import (
    KUSTOMIZE,
    OVERLAYS,
    Doc,
    claimed_volumes,
    config,
    config_map,
    container,
    daemon_settings,
    find,
    mount_holding,
    pod_spec,
    render,
    workload,
)

# The overlays that run one Deployment (the sharded one runs a StatefulSet).
UNSHARDED = ("observe", "reconcile")
# The oldest Kubernetes the manifests promise to run on; the newest schemas shipped are checked too.
OLDEST_KUBERNETES = "1.30"
SCHEMA_API_VERSIONS = {"v1", "apps/v1", "networking.k8s.io/v1", "policy/v1"}
COMMON_LABELS = {"app.kubernetes.io/name": "fdi-drift", "app.kubernetes.io/part-of": "fdi-drift"}
# Every overlay: the daemon's objects and the Grafana dashboard's ConfigMap.
COMMON_KINDS = [
    "ConfigMap", "ConfigMap", "NetworkPolicy", "PrometheusRule", "Service", "ServiceAccount",
    "ServiceMonitor",
]  # fmt: skip
KINDS = {
    "observe": sorted([*COMMON_KINDS, "Deployment", "PersistentVolumeClaim"]),
    "reconcile": sorted([*COMMON_KINDS, "Deployment", "PersistentVolumeClaim"]),
    "sharded": sorted([*COMMON_KINDS, "PodDisruptionBudget", "StatefulSet"]),
}
README = KUSTOMIZE.parent / "README.md"
EPHEMERAL_STATE = KUSTOMIZE / "components" / "ephemeral-state"
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def kubernetes_validate() -> ModuleType:
    """The schema validator; missing is a skip locally and a failure in CI."""
    try:
        return importlib.import_module("kubernetes_validate")
    except ImportError:
        message = "kubernetes-validate is not installed (a dev dependency)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def restricted_violations(pod: Doc) -> list[str]:
    """What the `restricted` Pod Security Standard would refuse in a pod spec."""
    problems = [f"spec.{key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    kinds = {v["name"]: set(v) - {"name"} for v in pod["volumes"]}
    problems += [f"volume {name}" for name, kind in kinds.items() if kind - RESTRICTED_VOLUME_TYPES]
    pod_context = pod.get("securityContext", {})
    for each in pod["containers"] + pod.get("initContainers", []):
        context = each.get("securityContext", {})
        where = f"container {each['name']}"
        if context.get("privileged") or context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: privilege escalation")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            problems.append(f"{where}: capabilities not dropped")
        if set(context.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: capabilities added")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            problems.append(f"{where}: may run as root")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append(f"{where}: runs as uid 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{where}: no seccomp profile")
        if any("hostPort" in port for port in each.get("ports", [])):
            problems.append(f"{where}: host port")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_daemon_objects_and_no_secret(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Each overlay renders the daemon's objects and its dashboard, one workload (a Deployment
    with its claim, or sharded a StatefulSet, whose claims are its own, with its disruption
    budget); the credentials Secret never."""
    assert sorted(doc["kind"] for doc in rendered[overlay]) == KINDS[overlay]


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, "newest"])
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_validate_against_the_kubernetes_schemas(
    rendered: dict[str, list[Doc]], overlay: str, version: str
) -> None:
    """Every object but the operator's matches its Kubernetes schema, unknown fields refused."""
    validator = kubernetes_validate()
    target = validator.latest_version() if version == "newest" else version
    checked = [doc for doc in rendered[overlay] if doc["apiVersion"] in SCHEMA_API_VERSIONS]
    unchecked = [doc["kind"] for doc in rendered[overlay] if doc not in checked]
    assert sorted(unchecked) == ["PrometheusRule", "ServiceMonitor"]
    for doc in checked:
        try:
            validator.validate(doc, target, strict=True)
        except validator.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {where}: {error.message}")


def test_example_secret_is_valid_and_holds_placeholders_only(
    rendered: dict[str, list[Doc]],
) -> None:
    """The example Secret is a valid Secret the Deployment mounts, with REPLACE_ME for ak and sk."""
    secret = yaml.safe_load((KUSTOMIZE / "base" / "secret.example.yaml").read_text())
    kubernetes_validate().validate(secret, OLDEST_KUBERNETES, strict=True)
    assert secret["stringData"] == {"ak": "REPLACE_ME", "sk": "REPLACE_ME"}
    [volume] = [v for v in pod_spec(rendered["observe"])["volumes"] if v["name"] == "credentials"]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]


def test_service_monitor_scrapes_metrics_every_30s_as_job_fdi_drift(
    rendered: dict[str, list[Doc]],
) -> None:
    """The ServiceMonitor selects the Service, scrapes /metrics on `metrics` and names the job."""
    docs = rendered["observe"]
    monitor, service = find(docs, "ServiceMonitor"), find(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["name"] == "fdi-drift"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert [endpoint[key] for key in ("port", "path", "interval")] == ["metrics", "/metrics", "30s"]
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "fdi-drift"
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_is_scraped_through_one_service(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The ServiceMonitor selects exactly one Service, the one in front of the daemon's pods: a
    second match would scrape every pod twice and double every sum."""
    docs = rendered[overlay]
    selector = find(docs, "ServiceMonitor")["spec"]["selector"]["matchLabels"]
    services = [
        doc
        for doc in docs
        if doc["kind"] == "Service" and selector.items() <= doc["metadata"]["labels"].items()
    ]
    assert len(services) == 1
    template = workload(docs)["spec"]["template"]["metadata"]["labels"]
    assert services[0]["spec"]["selector"].items() <= template.items()


def test_prometheus_rule_is_named_and_selects_the_scraped_job(
    rendered: dict[str, list[Doc]],
) -> None:
    """The PrometheusRule is the operator's kind, and any job its alerts select is fdi-drift."""
    rule = find(rendered["observe"], "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "fdi-drift"
    exprs = [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
    assert exprs
    assert set(re.findall(r'job="([^"]*)"', "\n".join(exprs))) <= {"fdi-drift"}


@pytest.mark.parametrize("overlay", UNSHARDED)
def test_one_daemon_without_a_service_account_token(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """One replica, replaced (never two at once), and no Kubernetes API token anywhere."""
    docs = rendered[overlay]
    deployment, account = find(docs, "Deployment"), find(docs, "ServiceAccount")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(docs)["automountServiceAccountToken"] is False
    assert pod_spec(docs)["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_meets_the_restricted_pod_security_standard(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Numeric non-root ids, RuntimeDefault seccomp and locked-down, read-only containers."""
    pod = pod_spec(rendered[overlay])
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        assert isinstance(context[key], int) and context[key] > 0
    contexts = [c["securityContext"] for c in pod["containers"]]
    for each in contexts:
        assert each["allowPrivilegeEscalation"] is False
        assert each["capabilities"] == {"drop": ["ALL"]}
        assert each["readOnlyRootFilesystem"] is True
    assert all(each == contexts[0] for each in contexts)
    assert restricted_violations(pod) == []


def test_restricted_check_refuses_what_the_standard_refuses(
    rendered: dict[str, list[Doc]],
) -> None:
    """The restricted check above is not vacuous: escalation and hostPath are caught."""
    pod = copy.deepcopy(pod_spec(rendered["observe"]))
    pod["containers"][1]["securityContext"]["allowPrivilegeEscalation"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert restricted_violations(pod) == ["volume host", "container git-sync: privilege escalation"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_reach_the_daemon_endpoints_on_its_listen_port(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Startup and liveness ask /healthz, readiness /readyz, on the port the config listens on."""
    docs = rendered[overlay]
    daemon = container(docs, "fdi-drift")
    ports = {p["name"]: p["containerPort"] for p in daemon["ports"]}
    probes = {
        kind: (daemon[kind]["httpGet"]["path"], ports.get(daemon[kind]["httpGet"]["port"]))
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    port = daemon_settings(docs).listen.port
    assert probes == {
        "startupProbe": ("/healthz", port),
        "livenessProbe": ("/healthz", port),
        "readinessProbe": ("/readyz", port),
    }


async def test_probe_paths_are_served_by_the_daemon() -> None:
    """The daemon answers the probed paths: /healthz at once, /readyz 503 before any cycle."""
    app = create_app(DaemonState(), DaemonMetrics(CollectorRegistry(), version="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://daemon.test") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """CPU and memory are requested and limited for the daemon and git-sync alike."""
    pod = pod_spec(rendered[overlay])
    assert [c["name"] for c in pod["containers"]] == ["fdi-drift", "git-sync"]
    for each in pod["containers"]:
        for bound in ("requests", "limits"):
            assert set(each["resources"][bound]) == {"cpu", "memory"}, each["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_git_sync_publishes_the_desired_state_the_daemon_reads(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """git-sync writes --root/--link in a shared emptyDir the daemon mounts read-only."""
    docs = rendered[overlay]
    sync, daemon = container(docs, "git-sync"), container(docs, "fdi-drift")
    assert re.fullmatch(r"registry\.k8s\.io/git-sync/git-sync:v4\.\d+\.\d+", sync["image"])
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in sync["args"])
    assert re.fullmatch(r"\d+s", flags["period"])
    root, link = PurePosixPath(flags["root"]), flags["link"]
    desired = daemon_settings(docs).desired_state
    assert desired.is_relative_to(root / link)
    [sync_mount] = [m for m in sync["volumeMounts"] if m["mountPath"] == str(root)]
    daemon_mount = mount_holding(daemon, desired)
    assert daemon_mount is not None and daemon_mount["name"] == sync_mount["name"]
    assert daemon_mount["readOnly"] is True and not sync_mount.get("readOnly")
    [volume] = [v for v in pod_spec(docs)["volumes"] if v["name"] == sync_mount["name"]]
    assert "emptyDir" in volume


def test_git_sync_takes_repository_and_ref_from_the_config_map(
    rendered: dict[str, list[Doc]],
) -> None:
    """--repo and --ref expand variables that read keys the ConfigMap holds."""
    docs = rendered["observe"]
    sync, source = container(docs, "git-sync"), config_map(docs)
    variables = {e["name"]: e["valueFrom"]["configMapKeyRef"] for e in sync["env"]}
    for flag in ("--repo", "--ref"):
        [arg] = [a for a in sync["args"] if a.startswith(f"{flag}=")]
        name = re.fullmatch(rf"{flag}=\$\((\w+)\)", arg)
        assert name is not None, arg
        reference = variables[name.group(1)]
        assert reference["name"] == source["metadata"]["name"]
        assert reference["key"] in source["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_and_credentials_are_mounted_read_only(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The config file and the AK/SK files the config names sit on read-only whole-volume mounts."""
    docs = rendered[overlay]
    daemon, settings = container(docs, "fdi-drift"), daemon_settings(docs)
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert isinstance(settings.targets[0].auth, AkSkFileAuth)
    config_file = Path(daemon["args"][-1])
    assert config_file == Path("/etc/fdi-drift/config.yaml")
    expected = [
        (config_file, "configMap"),
        (settings.targets[0].auth.ak_file, "secret"),
        (settings.targets[0].auth.sk_file, "secret"),
    ]
    for path, source in expected:
        mount = mount_holding(daemon, path)
        assert mount is not None, path
        assert mount["readOnly"] is True and "subPath" not in mount
        assert source in volumes[mount["name"]]


@pytest.mark.parametrize("overlay", UNSHARDED)
def test_the_daemon_writes_only_its_state_and_its_cache(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The daemon's writable mounts are the claim holding the audit log and the history, and an
    emptyDir of its own for the disposable parse cache."""
    docs = rendered[overlay]
    daemon, settings = container(docs, "fdi-drift"), daemon_settings(docs)
    assert settings.history_db is not None and settings.cache_dir is not None
    writable = [m for m in daemon["volumeMounts"] if not m.get("readOnly")]
    state = mount_holding(daemon, settings.audit_log)
    cache = mount_holding(daemon, settings.cache_dir)
    assert state is not None and cache is not None
    assert sorted(writable, key=str) == sorted([state, cache], key=str)
    assert mount_holding(daemon, settings.history_db) == state
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert claimed_volumes(docs) == {state["name"]}
    assert "emptyDir" in volumes[cache["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_audit_log_and_history_are_on_a_claim_that_outlives_the_pod(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """audit_log and history_db lie on one mount of a volume a PersistentVolumeClaim backs, at
    /var/lib/fdi-drift, so a rescheduled pod finds both; the parse cache is elsewhere."""
    docs = rendered[overlay]
    daemon, settings = container(docs, "fdi-drift"), daemon_settings(docs)
    assert settings.history_db is not None and settings.cache_dir is not None
    state = mount_holding(daemon, settings.audit_log)
    assert state is not None
    assert state["mountPath"] == "/var/lib/fdi-drift"
    assert mount_holding(daemon, settings.history_db) == state
    assert state["name"] in claimed_volumes(docs)
    assert not state.get("readOnly")
    assert mount_holding(daemon, settings.cache_dir) != state


def test_the_claim_is_read_write_once_and_sized_as_the_readme_says(
    rendered: dict[str, list[Doc]],
) -> None:
    """One node mounts the claim at a time (the Deployment replaces its pod, never runs two),
    and its size is the one deploy/README.md, Sizing, justifies."""
    docs = rendered["observe"]
    claim = find(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    [name] = claimed_volumes(docs)
    assert volumes[name]["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    size = claim["spec"]["resources"]["requests"]["storage"]
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Sizing\n", 1)[1].split("\n## ", 1)[0]
    assert f"`storage: {size}`" in section


@pytest.mark.parametrize("overlay", UNSHARDED)
def test_the_ephemeral_state_component_puts_the_state_on_an_emptydir(
    rendered: dict[str, list[Doc]], kubectl: str, tmp_path: Path, overlay: str
) -> None:
    """An overlay of observe or reconcile with the ephemeral-state component renders no claim:
    the audit log and the history sit on a size-limited emptyDir, and nothing else changes."""
    mine = tmp_path / "overlay"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(KUSTOMIZE / "overlays" / overlay, mine)],
                "components": [os.path.relpath(EPHEMERAL_STATE, mine)],
            }
        )
    )
    docs = render(kubectl, mine)
    assert not [doc for doc in docs if doc["kind"] == "PersistentVolumeClaim"]
    assert claimed_volumes(docs) == set()
    daemon, settings = container(docs, "fdi-drift"), daemon_settings(docs)
    assert settings.history_db is not None
    state = mount_holding(daemon, settings.audit_log)
    assert state is not None and mount_holding(daemon, settings.history_db) == state
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert set(volumes[state["name"]]) == {"name", "emptyDir"}
    assert volumes[state["name"]]["emptyDir"]["sizeLimit"]
    kubernetes_validate().validate(workload(docs), OLDEST_KUBERNETES, strict=True)
    # The overlay's own objects, but for the claim and the one volume it backed (which the
    # patch moves to the front of the list: the order of volumes means nothing).
    expected = copy.deepcopy(rendered[overlay])
    expected.remove(find(expected, "PersistentVolumeClaim"))
    pod_spec(expected)["volumes"] = [
        volumes[v["name"]] if v["name"] == state["name"] else v
        for v in pod_spec(expected)["volumes"]
    ]
    for each in (docs, expected):
        pod_spec(each)["volumes"].sort(key=lambda v: v["name"])
        each.sort(key=lambda doc: (doc["kind"], doc["metadata"]["name"]))
    assert docs == expected


@pytest.mark.parametrize(("overlay", "mode"), OVERLAYS.items())
def test_config_is_valid_for_the_daemon_in_the_overlays_mode(
    rendered: dict[str, list[Doc]], overlay: str, mode: ReconcileMode
) -> None:
    """The rendered config.yaml loads as daemon settings, in observe or auto mode."""
    settings = daemon_settings(rendered[overlay])
    assert settings.rails.mode is mode
    assert settings.audit_log == Path("/var/lib/fdi-drift/audit.jsonl")
    assert settings.history_db == Path("/var/lib/fdi-drift/history.db")
    assert settings.cache_dir == Path("/var/cache/fdi-drift")
    assert settings.secrets_dir == Path("/var/run/secrets/fdi-drift-writes")
    assert (settings.listen.host, settings.listen.port) == ("0.0.0.0", 9108)  # noqa: S104


def test_overlays_differ_only_in_reconcile_mode_and_write_secrets(
    rendered: dict[str, list[Doc]],
) -> None:
    """The reconcile overlay keeps the base config but for the mode, and adds write secrets."""
    observe, reconcile = rendered["observe"], rendered["reconcile"]
    configs = [config(observe), config(reconcile)]
    assert configs[1]["reconcile"]["mode"] == "auto"
    configs[1]["reconcile"]["mode"] = "observe"
    assert configs[0] == configs[1]
    secrets_dir = daemon_settings(reconcile).secrets_dir
    assert secrets_dir is not None
    assert mount_holding(container(observe, "fdi-drift"), secrets_dir) is None
    mount = mount_holding(container(reconcile, "fdi-drift"), secrets_dir)
    assert mount is not None and mount["readOnly"] is True
    [volume] = [v for v in pod_spec(reconcile)["volumes"] if v["name"] == mount["name"]]
    paths = [i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]]
    assert paths and all(len(PurePosixPath(p).parts) == 2 for p in paths)  # NAME/KEY


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_only_prometheus_and_dns_and_https(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Ingress: Prometheus in monitoring, on 9108. Egress: kube-dns on 53, anywhere on 443."""
    docs = rendered[overlay]
    policy = find(docs, "NetworkPolicy")["spec"]
    pod_labels = workload(docs)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9108}]
    assert ingress["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    dns, https = policy["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {block["ipBlock"]["cidr"] for block in https["to"]} == {"0.0.0.0/0", "::/0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_and_the_pod_carry_the_common_labels(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Every object and the pod template are labelled with the app's name and part-of."""
    docs = rendered[overlay]
    for doc in docs:
        assert COMMON_LABELS.items() <= doc["metadata"]["labels"].items(), doc["kind"]
    template = workload(docs)["spec"]["template"]["metadata"]["labels"]
    assert COMMON_LABELS.items() <= template.items()
    selector = find(docs, "Service")["spec"]["selector"]
    assert selector.items() <= template.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_write_in_flight_can_finish_before_the_pod_is_killed(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The daemon's shutdown grace, plus a request's deadline, ends before the kubelet's kill."""
    docs = rendered[overlay]
    settings = daemon_settings(docs)
    kill_after = pod_spec(docs)["terminationGracePeriodSeconds"]
    assert settings.schedule.shutdown_grace_seconds + settings.client.timeout < kill_after


def test_the_sizing_section_gives_the_daemons_requests_and_limits(
    rendered: dict[str, list[Doc]],
) -> None:
    """deploy/README.md, Sizing, states the daemon container's requests and limits as set."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Sizing\n", 1)[1].split("\n## ", 1)[0]
    resources = container(rendered["observe"], "fdi-drift")["resources"]
    for bound in ("requests", "limits"):
        for key, value in resources[bound].items():
            assert re.search(rf'`{key}: "?{re.escape(str(value))}"?`', section), (bound, key)
