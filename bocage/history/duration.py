"""ISO 8601 durations (``PnYnMnWnDTnHnMnS``) as used by NGSI-LD ``aggrPeriodDuration``.

A duration is kept as two independent parts: calendar ``months`` (years count 12) and an
exact number of milliseconds (weeks, days, hours, minutes, seconds; a day is 24 h since all
times are UTC). Adding a duration adds the months first, on the calendar (clamping the day:
31 January + P1M = 28 or 29 February), then the milliseconds, as XML Schema and ISO 8601 do.

``PT0S`` / ``P0D`` are valid and mean "one period spanning the whole requested interval"
(NGSI-LD); :func:`periods` yields that single period for a zero duration.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bocage.domain.errors import BadRequestData

_MS = {"W": 7 * 86_400_000, "D": 86_400_000, "H": 3_600_000, "M": 60_000, "S": 1000}
_PATTERN = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<MO>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<H>\d+)H)?(?:(?P<MI>\d+)M)?(?:(?P<S>\d+(?:[.,]\d{1,3})?)S)?)?"
)
_MAX_MONTHS = 12 * 10_000
_MAX_MS = 10_000 * 366 * 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar part (months) and an exact part (milliseconds), both >= 0."""

    months: int
    ms: int

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.ms == 0

    def approx_ms(self) -> int:
        """A rough length (a month taken as 30.44 days), for sizing and sanity checks only."""
        return self.months * 2_629_746_000 + self.ms


def parse_duration(text: str) -> Duration:
    """Parse ``P1Y2M3W4DT5H6M7.5S`` and its subsets; raise BadRequestData when invalid."""
    if not isinstance(text, str):
        raise BadRequestData(f"a duration must be a string, got {type(text).__name__}")
    match = _PATTERN.fullmatch(text.strip())
    if not match or text.strip() in ("P", "") or text.strip().endswith("T"):
        raise BadRequestData(
            f"invalid ISO 8601 duration {text!r}: expected PnYnMnWnDTnHnMnS, e.g. PT1H, P1D, "
            "P1M, P1W, PT15M (fractions only on seconds, up to milliseconds)"
        )
    parts = match.groupdict()
    months = 12 * int(parts["Y"] or 0) + int(parts["MO"] or 0)
    ms = sum(_MS[unit] * int(parts[key] or 0)
             for key, unit in (("W", "W"), ("D", "D"), ("H", "H"), ("MI", "M")))
    seconds = (parts["S"] or "0").replace(",", ".")
    whole, _, fraction = seconds.partition(".")
    ms += int(whole) * 1000 + int((fraction + "000")[:3])
    if months > _MAX_MONTHS or ms > _MAX_MS:
        raise BadRequestData(f"duration {text!r} is too long (at most 10,000 years)")
    return Duration(months, ms)


def add(t_ms: int, d: Duration, times: int = 1) -> int:
    """``t_ms`` plus ``times`` × ``d``, computed from ``t_ms`` (no drift: Jan 31 + 2×P1M is
    March 31, not March 28). ``times`` may be negative."""
    result = t_ms
    if d.months:
        try:
            moment = _EPOCH + dt.timedelta(milliseconds=t_ms)
        except OverflowError:
            raise BadRequestData("date out of range when adding the duration") from None
        total = moment.year * 12 + (moment.month - 1) + d.months * times
        year, month = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise BadRequestData("date out of range when adding the duration")
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        shifted = moment.replace(year=year, month=month + 1, day=day)
        result = (shifted - _EPOCH) // dt.timedelta(milliseconds=1)
    return result + d.ms * times


def periods(start_ms: int, end_ms: int, d: Duration) -> Iterator[tuple[int, int]]:
    """Consecutive ``[start, end)`` periods of length ``d`` from ``start_ms`` (NGSI-LD aligns
    aggregation periods on the start of the requested interval); the last one is cut at
    ``end_ms``. A zero duration yields the whole interval as one period."""
    if end_ms <= start_ms:
        return
    if d.is_zero:
        yield start_ms, end_ms
        return
    k = 0
    begin = start_ms
    while begin < end_ms:
        finish = add(start_ms, d, k + 1)
        yield begin, min(finish, end_ms)
        begin = finish
        k += 1


def period_index(start_ms: int, t_ms: int, d: Duration) -> int:
    """The index k of the period ``[add(start, d, k), add(start, d, k+1))`` holding ``t_ms``
    (``t_ms >= start_ms``, ``d`` not zero)."""
    if not d.months:
        return (t_ms - start_ms) // d.ms
    k = max(0, (t_ms - start_ms) // d.approx_ms() - 1)
    while add(start_ms, d, k + 1) <= t_ms:
        k += 1
    while k > 0 and add(start_ms, d, k) > t_ms:
        k -= 1
    return k
