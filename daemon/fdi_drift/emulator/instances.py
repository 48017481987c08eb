"""The ROMA instance list, `GET /v2/{project_id}/instances` (the SDK's CheckRomaInstanceListV2).

The answer is `{"total", "size", "instances": [RomaInstanceCheckListRespInstances]}`: one entry
per instance the task store knows in the project (a seed directory's instance folder, with or
without tasks, or an instance a task was added to or created in), ordered by `create_time`,
then id. `total` counts every instance matching `status`; `offset` and `limit` are each 0-100
(the page's bounds; `limit` defaults to 10, and 0 answers an empty page with the total), and a
bad one answers the FDI task list's 400 `FDI.3033` "Invalid parameter [limit]. ..." body, plus
`request_id` as the page's ErrorResp has it. `status` must be one of the page's values
(CREATING, RUNNING, DELETING, DELETED, ERROR, CREATE_FAILED, DELETE_FAILED, SOFT_DELETED).

Only `id` and `project_id` are facts the emulator holds. Every other value is invented, the
same on every answer:

- `status` `RUNNING`, `error_code` and `error_msg` `""` (nothing failed);
- `name` `roma-` and the first 8 characters of the id, `description` `""`;
- `create_time` and `update_time` the earliest of the moment the emulator learnt of the instance
  and the creation of its oldest task (an instance is older than its tasks), as UTC text to
  the second, `2022-10-26T08:19:35Z`, the page example's form;
- `flavor_type` `professional`, `cpu_arch` `x86_64`, `charge_type` `postPaid`,
  `enterprise_project_id` `"0"` (the tasks' default), `maintain_begin` `22:00:00` and
  `maintain_end` `02:00:00`;
- `flavor_id`, `vpc_id`, `subnet_id`, `security_group_id` UUIDs, and `available_zone_ids` one
  32-hex id, all made from the SHA-256 of the instance id and the field's name;
- no public address: `publicip_enable` false, `publicip_id` and `publicip_address` `""`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

from fdi_drift.emulator.records import utc_text
from fdi_drift.emulator.replies import Reply, invalid_parameter, json_reply, with_request_id
from fdi_drift.emulator.store import TaskStore
from fdi_drift.emulator.validation import FieldError, parse_bounded_paging, present

PAGE_BOUND = 100  # the page's maximum for both `offset` and `limit`
STATUSES = (
    "CREATING",
    "RUNNING",
    "DELETING",
    "DELETED",
    "ERROR",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "SOFT_DELETED",
)
RUNNING = "RUNNING"


class InstanceApi:
    """Answers the ROMA instance list from a TaskStore; auth and the project id come checked."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store

    def list_instances(self, project_id: str, params: Mapping[str, str]) -> Reply:
        """`GET /v2/{project_id}/instances?status=&offset=&limit=`."""
        given = present(params)
        try:
            offset, limit = parse_bounded_paging(given, PAGE_BOUND)
            status = given.get("status")
            if status is not None and status not in STATUSES:
                raise FieldError("status", f"It must be one of {', '.join(STATUSES)}.")
        except FieldError as exc:
            return with_request_id(invalid_parameter(exc.field, exc.problem))
        known = sorted(self._known(project_id).items(), key=lambda item: (item[1], item[0]))
        entries = [self._entry(project_id, instance_id, created) for instance_id, created in known]
        matching = [entry for entry in entries if status in (None, entry["status"])]
        page = matching[offset : offset + limit]
        return json_reply(200, {"total": len(matching), "size": len(page), "instances": page})

    def _known(self, project_id: str) -> dict[str, int]:
        """Each known instance's creation as the emulator tells it, in epoch ms."""
        created: dict[str, int] = {}
        for instance_id, since in self._store.instances(project_id).items():
            tasks = self._store.entries(project_id, instance_id)
            created[instance_id] = min([since, *(task.created_date for task in tasks)])
        return created

    def _entry(self, project_id: str, instance_id: str, created_ms: int) -> dict[str, object]:
        created = utc_text(created_ms, millis=False)
        return {
            "id": instance_id,
            "name": f"roma-{instance_id[:8]}",
            "description": "",
            "flavor_id": _invented_uuid(instance_id, "flavor_id"),
            "flavor_type": "professional",
            "cpu_arch": "x86_64",
            "vpc_id": _invented_uuid(instance_id, "vpc_id"),
            "subnet_id": _invented_uuid(instance_id, "subnet_id"),
            "security_group_id": _invented_uuid(instance_id, "security_group_id"),
            "publicip_enable": False,
            "publicip_id": "",
            "publicip_address": "",
            "status": RUNNING,
            "error_code": "",
            "error_msg": "",
            "charge_type": "postPaid",
            "project_id": project_id,
            "create_time": created,
            "update_time": created,
            "maintain_begin": "22:00:00",
            "maintain_end": "02:00:00",
            "available_zone_ids": [_invented_hex(instance_id, "available_zone_ids")],
            "enterprise_project_id": "0",
        }


def _invented_hex(instance_id: str, field: str) -> str:
    return hashlib.sha256(f"{instance_id}/{field}".encode()).hexdigest()[:32]


def _invented_uuid(instance_id: str, field: str) -> str:
    return str(uuid.UUID(hex=_invented_hex(instance_id, field)))
