"""The managed kinds by name: their offline rules, and drivers built over the cloud clients."""

from __future__ import annotations

from collections.abc import Mapping

from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.drift.model import Kind
from fdi_drift.kinds.contract import KindDriver, KindSpec
from fdi_drift.kinds.fdi_task import FdiTaskDriver, FdiTaskSpec

SPECS: Mapping[Kind, KindSpec] = {Kind.FDI_TASK: FdiTaskSpec()}


def build_drivers(fdi: FdiClient) -> dict[Kind, KindDriver]:
    """One driver per managed kind."""
    return {Kind.FDI_TASK: FdiTaskDriver(fdi)}
