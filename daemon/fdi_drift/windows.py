"""Reconcile windows: whether a moment falls in a minute that a cron expression names.

`reconcile.windows` holds standard 5-field cron expressions read in UTC. They are evaluated by
cronsim rather than by hand or through APScheduler's CronTrigger: cronsim reads cron as cron
does (weekday 0 and 7 are Sunday, names, ranges with steps, and day-of-month OR day-of-week
when both are restricted), where CronTrigger counts weekdays from Monday and always ANDs the
two day fields, so a translation of ours would sit between the user's cron and its meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from fdi_drift.errors import ConfigError

# Any moment will do to parse against: cronsim validates an expression when it is built.
_PARSED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def reconcile_windows(expressions: tuple[str, ...]) -> Callable[[datetime], bool]:
    """Whether a moment falls in a minute one of the expressions names; none: always.

    Raises ConfigError naming `reconcile.windows[i]` and the expression for a bad one.
    """
    for index, text in enumerate(expressions):
        try:
            # cronsim also takes a leading seconds field; a window is a standard cron line.
            if len(text.split()) != 5:
                raise CronSimError("a cron expression has 5 fields: minute hour day month weekday")
            CronSim(text, _PARSED_AT)
        except CronSimError as error:
            raise ConfigError(f"reconcile.windows[{index}]: {text!r}: {error}") from None
    if not expressions:
        return lambda moment: True

    def inside(moment: datetime) -> bool:
        minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
        return any(_fires_at(text, minute) for text in expressions)

    return inside


def _fires_at(expression: str, minute: datetime) -> bool:
    # The first firing from one second before the minute is the minute itself exactly when
    # the expression names it.
    try:
        return next(CronSim(expression, minute - timedelta(seconds=1))) == minute
    except StopIteration:  # no firing within cronsim's 50-year horizon
        return False
