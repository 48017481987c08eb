"""Which replica owns a resource: rendezvous hashing of its key over the shard indexes.

Every replica of a sharded daemon loads the whole desired tree and lists every scope, but only
the owner of a resource reads, reports, alerts on and writes it. The owner of a key is the shard
index with the highest weight blake2b(index, key): a stable hash, so every process and every
release agrees, and growing from N to N+1 shards moves only the keys the new shard now wins
(about 1/(N+1) of them), all to the new shard.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from fdi_drift.drift.model import ResourceKey

_ORDINAL = re.compile(r".+-(\d+)")  # a StatefulSet pod's name: <set>-<ordinal>


def shard_key(key: ResourceKey) -> str:
    """The text a resource is hashed by: `kind/project_id/instance_id/name` (id left out).

    A resource bound by id hashes by its declared name; a live one nobody declares, by its live
    name. `instance_id` is empty for kinds that live in projects (`DrsJob/p1//name`).
    """
    return f"{key.kind}/{key.project_id}/{key.instance_id}/{key.name}"


@functools.lru_cache(maxsize=1 << 16)  # each cycle asks again for the same keys
def owner(key: str, shards: int) -> int:
    """The index, 0..shards-1, of the shard that owns `key`."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    return max(range(shards), key=lambda index: _weight(key, index))


def _weight(key: str, index: int) -> int:
    digest = hashlib.blake2b(f"{index}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def hostname_ordinal(hostname: str) -> int | None:
    """The ordinal a StatefulSet gives its pod's hostname (`fdi-drift-2` -> 2), if it has one."""
    found = _ORDINAL.fullmatch(hostname.split(".", 1)[0])  # a pod's FQDN starts with its name
    return None if found is None else int(found.group(1))


@dataclass(frozen=True, slots=True)
class Shard:
    """Which of `count` replicas this process is; one shard (the default) owns everything."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} is not one of 0..{self.count - 1}")

    def owns(self, key: ResourceKey) -> bool:
        """Whether this replica checks, reports and writes the resource `key` names."""
        return self.count == 1 or owner(shard_key(key), self.count) == self.index
