"""The emulated DRS v5 jobs, in memory, keyed by project and job id, with their seed checks.

A job is kept as its JobDetailResp document (`{"job": {...}}` without the wrapper), with the
real passwords it was given and without the volatile fields that drs.py adds to every read.
Seeds (`DIR/drs/<project_id>/<job_id>.json`, or `add_job`) are exactly a `GET ?type=detail`
answer; the emulator's choices for them:

- the file name must equal `job.id`; `job.base_info.name` is required; every aspect present
  must follow seed 001's rules (drs_rules.py), but masked passwords are fine (GET answers hold
  them) and are then what the job keeps;
- missing fields get defaults: `status` `INCRE_TRANSFER_STARTED`, `create_time` the clock in
  epoch ms as a string (DRS types it a string), `base_info.enterprise_project_id` `"0"`,
  `base_info.expired_days` `"14"` (the page's default);
- `tuning_params` are lists of `{param_name, param_value, availability}` per group, as a read
  answers them (TuningParamInfo); an entry without `availability` is available;
- `progress_info` and `metrics` in a seed are dropped: the emulator makes its own;
- `db_object` is kept when a seed has it and shown as last set (the SDK's detail model lacks
  it, but the update writes it, so the emulator answers it back); a job without one has none;
- `add_job` with the id of a job the project holds replaces that job.

With the fighting switch on (TaskStore.fighting, read through `fighting`), another writer undoes
every typed update at the next `GET /v5/{project_id}/jobs` of the project, restoring the job
as it was before the first update since the last list.
"""

from __future__ import annotations

import copy
import pathlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from fdi_drift.emulator.drs_rules import (
    DIGITS,
    check_alarm_notify,
    check_base_info,
    check_db_object,
    check_endpoints,
    check_object,
    check_policy_config,
    check_speed_limit,
    check_tuning_lists,
)
from fdi_drift.emulator.drs_update import JobUpdate, apply_update
from fdi_drift.emulator.seeds import SeedError, job_seed_files, read_seed
from fdi_drift.emulator.validation import FieldError, check_id, check_string

VOLATILE = ("progress_info", "metrics")
DEFAULT_STATUS = "INCRE_TRANSFER_STARTED"
_STATUS = re.compile(r"[A-Z][A-Z_]{0,63}")


class JobNotFoundError(LookupError):
    """The project holds no job with this id."""


@dataclass(frozen=True, slots=True)
class StoredJob:
    """One DRS job: the detail document (real passwords) and the tuning `recovery` restores."""

    project_id: str
    job: Mapping[str, object]
    initial_tuning: object = None
    revision: int = 1

    @property
    def job_id(self) -> str:
        return str(self.job["id"])

    @property
    def base_info(self) -> Mapping[str, object]:
        info = self.job.get("base_info")
        return info if isinstance(info, dict) else {}

    @property
    def name(self) -> str:
        return str(self.base_info.get("name", ""))

    @property
    def create_time(self) -> str:
        return str(self.job.get("create_time", "0"))


class DrsStore:
    """All emulated DRS jobs; changes happen through the typed update or `add_job`."""

    def __init__(self, clock: Callable[[], float], fighting: Callable[[], bool]) -> None:
        self._clock = clock
        self._fighting = fighting
        self._jobs: dict[str, dict[str, StoredJob]] = {}
        self._undo: dict[str, dict[str, StoredJob]] = {}

    def add_job(self, project_id: str, detail_answer: Mapping[str, object]) -> StoredJob:
        """Add (or replace) a job from a `GET ...?type=detail` answer; raises SeedError."""
        return self._add(project_id, dict(detail_answer), None, "add_job")

    def load_seed_dir(self, seed_dir: pathlib.Path) -> int:
        """Load every `drs/<project_id>/<job_id>.json`; raises SeedError naming the file."""
        count = 0
        for seed in job_seed_files(seed_dir):
            self._add(seed.project_id, read_seed(seed.path), seed.path.stem, str(seed.path))
            count += 1
        return count

    def get(self, project_id: str, job_id: str) -> StoredJob | None:
        """The job, or None."""
        return self._jobs.get(project_id, {}).get(job_id)

    def jobs(self, project_id: str) -> list[StoredJob]:
        """The project's jobs, newest first (create_time descending, then id), DRS's default."""
        held = sorted(self._jobs.get(project_id, {}).values(), key=lambda job: job.job_id)
        return sorted(held, key=lambda job: int(job.create_time), reverse=True)

    def update(self, project_id: str, job_id: str, update: JobUpdate) -> StoredJob:
        """Apply a valid typed update; raises JobNotFoundError."""
        current = self.get(project_id, job_id)
        if current is None:
            raise JobNotFoundError(job_id)
        job = apply_update(current.job, update, current.initial_tuning)
        updated = replace(current, job=job, revision=current.revision + 1)
        self._jobs[project_id][job_id] = updated
        if self._fighting():
            self._undo.setdefault(project_id, {}).setdefault(job_id, current)
        return updated

    def fight_back(self, project_id: str) -> int:
        """Undo the project's updates since its jobs were last listed."""
        undone = self._undo.pop(project_id, {})
        for job_id, before in undone.items():
            current = self.get(project_id, job_id)
            if current is not None:
                restored = replace(current, job=before.job, revision=current.revision + 1)
                self._jobs[project_id][job_id] = restored
        return len(undone)

    def _add(
        self, project_id: str, body: object, file_job_id: str | None, source: str
    ) -> StoredJob:
        if not 1 <= len(project_id) <= 64:
            raise SeedError(f"{source}: project_id: it must have 1-64 characters")
        now_ms = int(self._clock() * 1000)
        try:
            job = _complete(body, file_job_id, now_ms)
        except FieldError as exc:
            raise SeedError(f"{source}: {exc.field}: {exc.problem}") from exc
        stored = StoredJob(project_id, job, copy.deepcopy(job.get("tuning_params")))
        self._jobs.setdefault(project_id, {})[stored.job_id] = stored
        return stored


def _complete(body: object, file_job_id: str | None, now_ms: int) -> dict[str, object]:
    if not isinstance(body, dict):
        raise FieldError("(document)", 'It must be a JSON object {"job": {...}}.')
    job = copy.deepcopy(check_object("job", body.get("job")))
    job_id = check_id("job.id", job.get("id"))
    if file_job_id is not None and job_id != file_job_id:
        raise FieldError("job.id", f"It is {job_id!r}; the file name says {file_job_id!r}.")
    status = check_string("job.status", job.setdefault("status", DEFAULT_STATUS), 1, 64)
    if not _STATUS.fullmatch(status):
        raise FieldError("job.status", "It must be a DRS status such as INCRE_TRANSFER_STARTED.")
    created = check_string("job.create_time", job.setdefault("create_time", str(now_ms)), 1, 20)
    if not DIGITS.fullmatch(created):
        raise FieldError("job.create_time", "It must be a string of epoch milliseconds.")
    base_info = check_base_info("job.base_info", job.get("base_info"))
    if base_info.get("name") is None:
        raise FieldError("job.base_info.name", "It is required.")
    base_info.setdefault("enterprise_project_id", "0")
    base_info.setdefault("expired_days", "14")
    for key in ("source_endpoint", "target_endpoint"):
        if job.get(key) is not None:
            check_endpoints(f"job.{key}", job[key], real_password=False)
    for key, check in (
        ("alarm_notify", check_alarm_notify),
        ("speed_limit", check_speed_limit),
        ("policy_config", check_policy_config),
        ("db_object", check_db_object),
    ):
        if job.get(key) is not None:
            check(f"job.{key}", job[key])
    if job.get("tuning_params") is not None:
        job["tuning_params"] = check_tuning_lists("job.tuning_params", job["tuning_params"])
    for key in VOLATILE:
        job.pop(key, None)
    return job
