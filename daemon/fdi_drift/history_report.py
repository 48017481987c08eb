"""`fdi-drift history` as text: one block per episode, newest first."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from fdi_drift.history import DRIFT_SPELLS, Episode
from fdi_drift.times import age, rfc3339

_OPS = {"changed": "~", "absent": "+", "extra": "-"}
_SHOWN = 80  # characters of a value shown; the JSON output has them whole


def render_episodes(episodes: Iterable[Episode], *, now: float) -> str:
    lines = list(_lines(episodes, now))
    if not lines:
        return "No drift episodes recorded.\n"
    return "\n".join(lines) + "\n"


def _lines(episodes: Iterable[Episode], now: float) -> Iterator[str]:
    for number, episode in enumerate(episodes):
        if number:
            yield ""
        key = episode.key
        scope = "/".join(part for part in (key.project_id, key.instance_id) if part)
        yield f"{key.kind} {key.name} ({episode.resource}) in {scope}: {episode.spell}"
        if episode.closed_at is None:
            yield f"  opened {rfc3339(episode.opened_at)}, open for {age(now - episode.opened_at)}"
        else:
            lasted = age(episode.closed_at - episode.opened_at)
            ended = f", {episode.resolution}" if episode.resolution else ""
            yield (
                f"  opened {rfc3339(episode.opened_at)}, closed {rfc3339(episode.closed_at)} "
                f"after {lasted}{ended}"
            )
        if episode.detail:
            yield f"  {episode.detail}"
        if episode.spell in DRIFT_SPELLS:
            yield f"  changed by: {_who(episode)}"
        for field in episode.fields:
            mark = _OPS.get(field.op, "~")
            yield f"  {mark} {field.pointer}: {_shown(field.live)} -> {_shown(field.desired)}"


def _who(episode: Episode) -> str:
    who = episode.changed_by
    if who is None:
        return episode.attribution or "unknown"
    where = f" from {who.source_ip}" if who.source_ip else ""
    return f"{who.user}{where} at {rfc3339(who.time)} (trace {who.trace_id})"


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
