"""Schedule maths: publish days × time slots on the site's wall clock, stored in UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SEARCH_DAYS = 366


def local_slot_utc(day: date, slot: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of `slot` (HH:MM) on `day` in the zone; a wall time skipped by a DST change moves
    forward by the gap, and a repeated one takes its first occurrence."""
    hour, minute = (int(x) for x in slot.split(":"))
    # fold=0: a repeated wall time is its first occurrence; a skipped one is read with the offset before
    # the change, which lands it the length of the gap later on the new clock (02:30 → 03:30).
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(timezone.utc)


def upcoming_slots(*, days: list[int], slots: list[str], tz_name: str, after: datetime, limit: int = 500):
    """Slot instants (UTC) after `after`, in order, over at most a year."""
    tz = ZoneInfo(tz_name or "UTC")
    start = after.astimezone(tz).date()
    produced = 0
    for offset in range(SEARCH_DAYS + 1):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        for slot in sorted(slots):
            instant = local_slot_utc(day, slot, tz)
            if instant > after:
                yield instant
                produced += 1
                if produced >= limit:
                    return


def next_free_slot(*, days: list[int], slots: list[str], tz_name: str, after: datetime,
                   taken: set[datetime]) -> datetime | None:
    """The first slot after `after` that no other item has taken (None without days or slots)."""
    if not days or not slots:
        return None
    for instant in upcoming_slots(days=days, slots=slots, tz_name=tz_name, after=after, limit=100_000):
        if instant not in taken:
            return instant
    return None


def capacity(*, days: list[int], slots: list[str]) -> tuple[int, int]:
    """(items per publish day, items per week)."""
    return len(slots), len(slots) * len(set(days))
