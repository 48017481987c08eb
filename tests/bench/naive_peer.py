"""The naive peer of `fdi-drift check`: what a short script with the usual libraries does.

    python -m tests.bench.naive_peer --url URL --desired DIR    (token in FDI_DRIFT_BENCH_TOKEN)

Loads every desired YAML file (PyYAML's CSafeLoader), lists each declared instance's tasks,
GETs every declared task (httpx, default settings), decodes `task_detail` and the JSON strings
inside it, keeps the keys the desired file declares (the export leaves out the cursors the
service moves) and compares with DeepDiff. Prints one JSON line of counts;
exits 0. It shares no code with fdi-drift, on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import yaml
from deepdiff import DeepDiff

PAGE = 500


def load_desired(root: Path) -> list[dict[str, Any]]:
    """Every resource document under `root`."""
    documents = []
    for path in sorted(root.rglob("*.yaml")):
        with path.open(encoding="utf-8") as file:
            documents.append(yaml.load(file, Loader=yaml.CSafeLoader))
    return documents


def list_tasks(client: httpx.Client, project: str, instance: str) -> list[dict[str, Any]]:
    """Every task entry of one instance, page after page."""
    entries: list[dict[str, Any]] = []
    while True:
        answer = client.get(
            f"/v2/{project}/fdi/instances/{instance}/tasks",
            params={"offset": len(entries), "limit": PAGE},
        )
        answer.raise_for_status()
        page = answer.json()
        entries.extend(page["entities"])
        if not page["entities"] or len(entries) >= page["total"]:
            return entries


def decode(value: Any) -> Any:
    """`value` with every string that holds a JSON object or array replaced by its content."""
    if isinstance(value, dict):
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return decode(json.loads(value))
        except ValueError:
            return value
    return value


def declared(live: Any, desired: Any) -> Any:
    """The part of `live` that `desired` declares (the keys of its mappings, at any depth)."""
    if isinstance(live, dict) and isinstance(desired, dict):
        return {key: declared(live[key], desired[key]) for key in desired if key in live}
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        return [declared(item, want) for item, want in zip(live, desired, strict=True)]
    return live


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--desired", type=Path, required=True)
    args = parser.parse_args()
    token = os.environ["FDI_DRIFT_BENCH_TOKEN"]
    resources = load_desired(args.desired)
    by_instance: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        metadata = resource["metadata"]
        by_instance[(metadata["project_id"], metadata["instance_id"])].append(resource)
    counts = {"in_sync": 0, "drifted": 0, "missing": 0}
    with httpx.Client(base_url=args.url, headers={"X-Auth-Token": token}) as client:
        for (project, instance), wanted in sorted(by_instance.items()):
            ids = {e["task_name"]: e["task_id"] for e in list_tasks(client, project, instance)}
            for resource in wanted:
                name = resource["metadata"]["name"]
                if name not in ids:
                    counts["missing"] += 1
                    continue
                answer = client.get(f"/v2/{project}/fdi/instances/{instance}/tasks/{ids[name]}")
                answer.raise_for_status()
                raw = answer.json()
                task = raw["task"]
                task["task_type"] = task["task_type"].upper()
                live = {"task": task, "task_detail": decode(json.loads(raw["task_detail"]))}
                spec = resource["spec"]
                difference = DeepDiff(spec, declared(live, spec))
                counts["drifted" if difference else "in_sync"] += 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
