"""Where the cloud's services answer: each API by name, at its host in every region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Service:
    """A cloud API: the name configuration gives it (`endpoints.NAME`) and its regional host."""

    name: str
    host: str

    def url(self, region: str) -> str:
        """The public endpoint of this service in `region`."""
        return f"https://{self.host}.{region}.myhuaweicloud.com"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The base URL of every service in use, by service name."""

    urls: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.urls[name]

    @classmethod
    def of_region(cls, region: str, services: tuple[Service, ...]) -> Endpoints:
        """Each service's public endpoint in `region`."""
        return cls({service.name: service.url(region) for service in services})
