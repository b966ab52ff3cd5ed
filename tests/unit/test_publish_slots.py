"""Schedule maths: days × slots on the site's wall clock, stored in UTC, right across DST changes."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.errors import ValidationError
from app.services.publishing.settings import parse_days, parse_slots
from app.services.publishing.slots import capacity, local_slot_utc, next_free_slot, upcoming_slots

UTC = timezone.utc
BERLIN = "Europe/Berlin"  # CET (UTC+1) → CEST (UTC+2) on 2027-03-28 at 02:00; back on 2027-10-31 at 03:00
NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def clean_state():
    """Pure functions: no database or Redis (overrides tests/conftest.py)."""
    yield


def test_slots_parse_sorted_and_padded():
    assert parse_slots("14:00, 9:00") == ["09:00", "14:00"]
    assert parse_slots("") == []
    assert parse_slots("00:00;23:59") == ["00:00", "23:59"]


@pytest.mark.parametrize("raw,message", [
    ("25:00", "“25:00” is not a time of day"),
    ("09:60", "“09:60” is not a time of day"),
    ("9am", "“9am” is not a time of day"),
    ("09:00, 9:00", "09:00 is listed twice"),
])
def test_bad_slots_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(ValidationError) as caught:
        parse_slots(raw)
    assert message in caught.value.message and caught.value.field == "slots"


def test_days_parse_and_refuse_nonsense():
    assert parse_days(["4", "0", "0"]) == [0, 4]
    with pytest.raises(ValidationError):
        parse_days(["7"])
    with pytest.raises(ValidationError):
        parse_days(["monday"])


def test_a_slot_keeps_its_wall_clock_time_across_the_spring_change():
    tz = ZoneInfo(BERLIN)
    before = local_slot_utc(datetime(2027, 3, 26).date(), "09:00", tz)  # Friday, CET
    after = local_slot_utc(datetime(2027, 3, 29).date(), "09:00", tz)  # Monday, CEST
    assert before == datetime(2027, 3, 26, 8, 0, tzinfo=UTC)
    assert after == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    assert before.astimezone(tz).hour == after.astimezone(tz).hour == 9


def test_slots_on_the_change_days_land_at_the_right_local_time():
    tz = ZoneInfo(BERLIN)
    # Sunday 2027-03-28: 02:30 does not exist (clocks jump 02:00 → 03:00); it moves past the gap.
    skipped = local_slot_utc(datetime(2027, 3, 28).date(), "02:30", tz)
    assert skipped.astimezone(tz).strftime("%H:%M") == "03:30"
    assert local_slot_utc(datetime(2027, 3, 28).date(), "14:00", tz) == datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
    # Sunday 2027-10-31: 02:30 happens twice; the first one is taken.
    repeated = local_slot_utc(datetime(2027, 10, 31).date(), "02:30", tz)
    assert repeated == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert local_slot_utc(datetime(2027, 10, 31).date(), "14:00", tz) == datetime(2027, 10, 31, 13, 0, tzinfo=UTC)


def test_default_weekday_slots_follow_new_york_across_its_change():
    after = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)  # Friday 10:00 in New York (EST)
    slots = list(upcoming_slots(days=[0, 1, 2, 3, 4], slots=["09:00", "14:00"], tz_name=NEW_YORK, after=after,
                                limit=3))
    assert slots == [datetime(2027, 3, 12, 19, 0, tzinfo=UTC),  # Fri 14:00 EST
                     datetime(2027, 3, 15, 13, 0, tzinfo=UTC),  # Mon 09:00 EDT (after the weekend's change)
                     datetime(2027, 3, 15, 18, 0, tzinfo=UTC)]


def test_next_free_slot_skips_taken_slots_and_full_days():
    after = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # Tuesday morning
    days, slots = [1, 3], ["09:00", "14:00"]  # Tuesday and Thursday
    taken = {datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 14, 0, tzinfo=UTC)}  # Tuesday full
    assert next_free_slot(days=days, slots=slots, tz_name="UTC", after=after, taken=taken) == \
        datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert next_free_slot(days=[], slots=slots, tz_name="UTC", after=after, taken=set()) is None
    assert next_free_slot(days=days, slots=[], tz_name="UTC", after=after, taken=set()) is None


def test_capacity_per_day_and_week():
    assert capacity(days=[0, 1, 2, 3, 4], slots=["09:00", "14:00"]) == (2, 10)
