"""Slot maths of recurring tasks: which time slot a moment belongs to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workers.recurring import RECURRING, slot_for

UTC = timezone.utc
MINUTE, HOUR, DAY = 60, 3600, 86400


@pytest.fixture(autouse=True)
def clean_state():
    """Pure time maths: no database or Redis to build or empty (overrides tests/conftest.py)."""
    yield


def at(*parts, tz=UTC) -> datetime:
    return datetime(*parts, tzinfo=tz)


@pytest.mark.parametrize("moment", [
    at(2026, 11, 22, 10, 5, 0),
    at(2026, 11, 22, 10, 5, 1),
    at(2026, 11, 22, 10, 5, 59, 999999),
])
def test_every_moment_of_a_minute_shares_the_minute_slot(moment):
    assert slot_for(MINUTE, moment) == "2026-11-22T10:05:00"


def test_the_next_minute_starts_a_new_slot():
    assert slot_for(MINUTE, at(2026, 11, 22, 10, 6, 0)) == "2026-11-22T10:06:00"
    last = at(2026, 11, 22, 10, 5, 59, 999999)
    assert slot_for(MINUTE, last) != slot_for(MINUTE, last + timedelta(microseconds=1))


def test_minute_slots_cross_midnight_and_the_new_year():
    assert slot_for(MINUTE, at(2026, 11, 22, 23, 59, 59)) == "2026-11-22T23:59:00"
    assert slot_for(MINUTE, at(2026, 11, 23, 0, 0, 0)) == "2026-11-23T00:00:00"
    assert slot_for(MINUTE, at(2026, 12, 31, 23, 59, 30)) == "2026-12-31T23:59:00"
    assert slot_for(MINUTE, at(2027, 1, 1, 0, 0, 30)) == "2027-01-01T00:00:00"


def test_a_day_slot_runs_from_utc_midnight_to_utc_midnight():
    assert slot_for(DAY, at(2026, 11, 22, 0, 0, 0)) == "2026-11-22T00:00:00"
    assert slot_for(DAY, at(2026, 11, 22, 13, 37, 0)) == "2026-11-22T00:00:00"
    assert slot_for(DAY, at(2026, 11, 22, 23, 59, 59, 999999)) == "2026-11-22T00:00:00"
    assert slot_for(DAY, at(2026, 11, 23, 0, 0, 0)) == "2026-11-23T00:00:00"
    assert slot_for(DAY, at(2026, 12, 31, 23, 59, 59)) == "2026-12-31T00:00:00"
    assert slot_for(DAY, at(2027, 1, 1, 0, 0, 0)) == "2027-01-01T00:00:00"


def test_leap_day_has_its_own_day_slot():
    assert slot_for(DAY, at(2028, 2, 29, 12, 0, 0)) == "2028-02-29T00:00:00"
    assert slot_for(DAY, at(2028, 3, 1, 0, 0, 0)) == "2028-03-01T00:00:00"


def test_longer_intervals_align_to_the_unix_epoch():
    assert slot_for(HOUR, at(2026, 11, 22, 10, 59, 59)) == "2026-11-22T10:00:00"
    assert slot_for(5 * MINUTE, at(2026, 11, 22, 10, 9, 59)) == "2026-11-22T10:05:00"
    assert slot_for(5 * MINUTE, at(2026, 11, 22, 10, 10, 0)) == "2026-11-22T10:10:00"


def test_the_same_instant_in_another_timezone_falls_in_the_same_slot():
    india = timezone(timedelta(hours=5, minutes=30))
    moment = at(2026, 11, 23, 3, 35, 20, tz=india)  # 2026-11-22 22:05:20 UTC
    assert slot_for(MINUTE, moment) == "2026-11-22T22:05:00"
    # Days are UTC days, whatever the clock on the wall says.
    assert slot_for(DAY, moment) == "2026-11-22T00:00:00"
    assert slot_for(DAY, moment) == slot_for(DAY, moment.astimezone(UTC))


def test_each_registered_task_gets_exactly_one_slot_per_interval():
    start = at(2026, 11, 22, 0, 0, 0)
    for task, (interval, function) in RECURRING.items():
        assert interval > 0 and callable(function), task
        moments = [start + timedelta(seconds=s) for s in range(0, 3 * interval, max(1, interval // 4))]
        slots = {slot_for(interval, m) for m in moments}
        assert len(slots) == 3, task
