"""Where the services of a region answer: the base URLs of FDI (ROMA Connect), DRS and IAM."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of the three services."""

    fdi: str
    drs: str
    iam: str


def default_endpoints(region: str) -> Endpoints:
    """The public endpoints of a region."""
    return Endpoints(
        fdi=f"https://roma.{region}.myhuaweicloud.com",
        drs=f"https://drs.{region}.myhuaweicloud.com",
        iam=f"https://iam.{region}.myhuaweicloud.com",
    )
