"""The DRS v5 job routes: read one job in detail, list a project's jobs, and the typed update.

    GET /v5/{project_id}/jobs/{job_id}?type=detail   {"job": JobDetailResp}
    GET /v5/{project_id}/jobs?offset=&limit=         {"total_count": n, "jobs": [JobListResp]}
    PUT /v5/{project_id}/jobs/{job_id}               {"job": {"type", "params"}}
                                                     -> 200 {"id", "name", "status": "success"}

Choices where the pages are silent:

- Only `type=detail` is answered; a missing or other `type` is a 400 naming `type`.
- Every string under a key ending in `password` (every `db_password` in particular) is
  answered `******`, whatever the job holds.
- Each detail read adds `progress_info` and `metrics` that differ from the previous read (a
  progress percentage and rates derived from a per-job read counter, timestamps from the
  clock), as a running job's would; they are never stored and a seed's are dropped.
- `db_object` is answered as last set (seed or `db_object` update), though the SDK's detail
  model lacks it; a job never given one answers without it.
- `tuning_params` is answered as the SDK's TuningParamInfo: per group (`full_sync`,
  `incre_capture`, `incre_apply`, `incre_relay`) a list of `{param_name, param_value,
  availability}`, while the `tuning_param` update takes maps (name -> value) and merges them
  into those lists (drs_update.py).
- A successful update answers UpdateJobResponse's `id`, `name` (after the update) and
  `status` `success`, where seed 001's example shows `{}`; `error_code` and `error_msg` are
  never set in a 200, since the emulator's refusals are 400s.
- The list takes `offset` (an item offset, an integer from 0, default 0) and `limit` (1-1000,
  default 10); other parameters (filters, `sort_key`, `sort_dir`) are ignored, and the order is
  always newest first (create_time descending, then id). An entry carries `id`, `name`,
  `status`, `description` (`""` if none), `create_time`, `engine_type`, `net_type`,
  `charging_mode` (`on_demand` if none), `billing_tag` false, `job_direction`, `job_type`,
  `task_type`, `enterprise_project_id`, `is_multi_az` false and `children` [].
- An update body is checked before the job is looked up, as FDI updates are; only whether
  the tuning parameters sent are the job's to change is checked after (drs_update.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

from fdi_drift.emulator.drs_store import DrsStore, JobNotFoundError, StoredJob
from fdi_drift.emulator.drs_update import parse_job_update
from fdi_drift.emulator.recording import MASK
from fdi_drift.emulator.replies import (
    Reply,
    drs_invalid_parameter,
    drs_job_not_found,
    json_reply,
)
from fdi_drift.emulator.validation import FieldError

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
_DIGITS = re.compile(r"[0-9]{1,9}")
_LIST_FIELDS = ("engine_type", "net_type", "job_direction", "job_type", "task_type")


class DrsApi:
    """Answers the DRS job routes from a DrsStore; auth and path ids are checked before."""

    def __init__(self, store: DrsStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._reads: dict[tuple[str, str], int] = {}

    def get_job(self, project_id: str, job_id: str, params: Mapping[str, str]) -> Reply:
        """`GET .../jobs/{job_id}?type=detail`."""
        if params.get("type") != "detail":
            return drs_invalid_parameter("type", "It must be detail.")
        job = self._store.get(project_id, job_id)
        if job is None:
            return drs_job_not_found()
        reads = self._reads.get((project_id, job_id), 0) + 1
        self._reads[(project_id, job_id)] = reads
        detail = masked(job.job)
        assert isinstance(detail, dict)
        detail.update(_volatile(job, reads, int(self._clock() * 1000)))
        return json_reply(200, {"job": detail})

    def list_jobs(self, project_id: str, params: Mapping[str, str]) -> Reply:
        """`GET .../jobs?offset=&limit=`."""
        try:
            offset = _integer("offset", params.get("offset") or "0")
            limit = _integer("limit", params.get("limit") or str(DEFAULT_LIMIT))
            if not 1 <= limit <= MAX_LIMIT:
                raise FieldError("limit", f"It must be 1-{MAX_LIMIT}.")
        except FieldError as exc:
            return drs_invalid_parameter(exc.field, exc.problem)
        self._store.fight_back(project_id)
        jobs = self._store.jobs(project_id)
        page = jobs[offset : offset + limit]
        return json_reply(200, {"total_count": len(jobs), "jobs": [_entry(job) for job in page]})

    def update_job(self, project_id: str, job_id: str, body: bytes) -> Reply:
        """`PUT .../jobs/{job_id}`: one typed update, 200 `{id, name, status}`."""
        try:
            job = self._store.update(project_id, job_id, parse_job_update(body))
        except FieldError as exc:
            return drs_invalid_parameter(exc.field, exc.problem)
        except JobNotFoundError:
            return drs_job_not_found()
        return json_reply(200, {"id": job.job_id, "name": job.name, "status": "success"})


def masked(value: object) -> object:
    """A deep copy with the string value of every key ending in `password` masked."""
    if isinstance(value, Mapping):
        return {
            key: MASK if str(key).endswith("password") and isinstance(item, str) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _volatile(job: StoredJob, reads: int, now_ms: int) -> dict[str, object]:
    progress = (reads * 7) % 100  # a step of 7 never repeats the previous read's value
    moment = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
    return {
        "progress_info": {
            "progress": str(progress),
            "incr_trans_delay": str(reads % 5),
            "incr_trans_delay_millis": str((reads * 211) % 5000),
            "task_mode": str(job.base_info.get("task_type", "")),
            "transfer_status": str(job.job.get("status", "")),
            "process_time": str(now_ms),
            "remaining_time": str((100 - progress) * 3),
            "progress_map": {},
        },
        "metrics": {
            "job_id": job.job_id,
            "node_id": f"node-{job.job_id[:8]}",
            "time_stamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "cpu_util": f"{(reads * 13) % 90 + 5}.{reads % 10}",
            "mem_util": f"{(reads * 5) % 40 + 30}.{(reads * 3) % 10}",
            "apply_rows_rate": str((reads * 37) % 1000),
            "apply_transactions_rate": str((reads * 11) % 200),
            "apply_ddl_rate": "0",
            "apply_current_state": "APPLYING",
        },
    }


def _entry(job: StoredJob) -> dict[str, object]:
    base = job.base_info
    entry: dict[str, object] = {
        "id": job.job_id,
        "name": job.name,
        "status": job.job.get("status", ""),
        "description": base.get("description", ""),
        "create_time": job.create_time,
    }
    for key in _LIST_FIELDS:
        entry[key] = base.get(key, "")
    entry["charging_mode"] = base.get("charging_mode", "on_demand")
    entry["billing_tag"] = False
    entry["enterprise_project_id"] = base.get("enterprise_project_id", "0")
    entry["is_multi_az"] = False
    entry["children"] = []
    return entry


def _integer(field: str, text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise FieldError(field, "It must be a non-negative integer.")
    return int(text)
