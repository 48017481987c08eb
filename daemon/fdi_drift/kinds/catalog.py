"""The managed kinds by name: their offline rules, and drivers built over the cloud clients."""

from __future__ import annotations

from collections.abc import Mapping

from fdi_drift.cloud.drs import DrsClient
from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.drift.model import Kind
from fdi_drift.kinds.contract import KindDriver, KindSpec
from fdi_drift.kinds.drs_job import DrsJobDriver, DrsJobSpec
from fdi_drift.kinds.fdi_composite_task import FdiCompositeTaskDriver, FdiCompositeTaskSpec
from fdi_drift.kinds.fdi_task import FdiTaskDriver, FdiTaskSpec
from fdi_drift.kinds.task_list import SharedTaskList

SPECS: Mapping[Kind, KindSpec] = {
    Kind.FDI_TASK: FdiTaskSpec(),
    Kind.FDI_COMPOSITE_TASK: FdiCompositeTaskSpec(),
    Kind.DRS_JOB: DrsJobSpec(),
}


def build_drivers(fdi: FdiClient, drs: DrsClient) -> dict[Kind, KindDriver]:
    """One driver per managed kind."""
    tasks = SharedTaskList(fdi)
    return {
        Kind.FDI_TASK: FdiTaskDriver(fdi, tasks),
        Kind.FDI_COMPOSITE_TASK: FdiCompositeTaskDriver(fdi, tasks),
        Kind.DRS_JOB: DrsJobDriver(drs),
    }
