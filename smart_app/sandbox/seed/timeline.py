"""Seed dates: fixed offsets from one anchor date, written into the JSON as absolute dates.

The anchor is the planned date of service every acceptance case uses (`as_of`), so "30 days before" in a
scenario means 30 days before the request, whatever day the tests run. Times carry a fixed clinic offset.
"""

from __future__ import annotations

from datetime import date, timedelta

ANCHOR_DATE = date(2026, 11, 15)
CLINIC_UTC_OFFSET = "-05:00"


def day(offset_days: int) -> str:
    """The calendar date `offset_days` from the anchor (negative = before), e.g. `day(-30)` → `2026-10-16`."""
    return (ANCHOR_DATE + timedelta(days=offset_days)).isoformat()


def moment(offset_days: int, clock: str) -> str:
    """A dateTime on that day at `clock` (`HH:MM`) in the clinic's offset, e.g. `2026-10-16T08:00:00-05:00`."""
    hours, minutes = (int(part) for part in clock.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"bad clock time {clock!r}")
    return f"{day(offset_days)}T{hours:02d}:{minutes:02d}:00{CLINIC_UTC_OFFSET}"
