"""Keywords of a sector: adding, the filtered table, bulk actions, inline edits and CSV export."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterable, Iterator

from sqlalchemy import ARRAY, Integer, any_, cast, delete, func, select, update
from sqlalchemy.orm import joinedload

from app import tenancy
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import Cluster, Keyword, Sector
from app.models.planner import INTENTS, KEYWORD_STATUSES, keyword_search
from app.services.planner import parsing
from app.services.csv_safety import safe_cell
from app.services.planner.keyword_copy import ConcurrentInsert, keyword_batch, search_pending, sector_is_empty
from app.services.planner.keyword_filter import PER_PAGE_CHOICES, SORTS, KeywordFilter  # noqa: F401  (the views' names)
from app.services.planner.keyword_filter import ENTRY_SORTS, is_trigram_search
from app.services.planner.keyword_filter import order_by as _order_by

MAX_TYPED_KEYWORDS = 5_000


@dataclass
class AddResult:
    """What adding keywords did, for the message and the import report."""

    added: int = 0
    duplicates: int = 0  # repeated within what was given
    existing: int = 0  # already in the sector
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def message(self) -> str:
        parts = [f"Added {self.added:,} keyword{'s' if self.added != 1 else ''}"]
        if self.existing:
            parts.append(f"{self.existing:,} already in this sector")
        if self.duplicates:
            parts.append(f"{self.duplicates:,} repeated")
        if self.rejected:
            parts.append(f"{len(self.rejected):,} rejected")
        return ", ".join(parts) + "."


def get_sector(sector_id: int | None) -> Sector:
    """A sector the person may see, or NotFound."""
    sector = db.session.scalars(select(Sector).where(Sector.id == sector_id)).first() if sector_id else None
    if sector is None:
        raise NotFound("That sector does not exist or you do not have access to it.")
    return sector


def get_keyword(keyword_id: int) -> Keyword:
    keyword = db.session.scalars(select(Keyword).where(Keyword.id == keyword_id)).first()
    if keyword is None:
        raise NotFound("That keyword does not exist or you do not have access to it.")
    return keyword


# --- Adding ---------------------------------------------------------------------------------------------

def insert_records(sector: Sector, records: Iterable, *, source: str, progress=None, total: int = 0) -> int:
    """Insert parsed records into the sector, skipping ones already there; returns how many were added.

    The caller commits (or rolls back) the whole batch: nothing is half-imported.
    """
    records = list(records)
    for attempt in (1, 2):
        try:
            with inserting(sector, source=source, progress=progress, total=total or len(records),
                           direct=None if attempt == 1 else False) as batch:
                for record in records:
                    batch.write(record)
            return batch.added
        except ConcurrentInsert:
            continue  # someone filled the empty sector meanwhile: again, skipping what is there
    raise AssertionError("unreachable")


@contextmanager
def inserting(sector: Sector, *, source: str, progress=None, total: int = 0,
              direct: bool | None = None, search_later: bool = False) -> Iterator:
    """Yields a batch: ``batch.write(record)`` for records unique among themselves; ``batch.added`` is
    set on the way out.

    Records may be written while the file is still being parsed. A sector that is empty gets the rows
    COPYed straight in (``direct``; None = when the sector is empty); if someone else adds keywords to
    it at the same moment this raises ConcurrentInsert with nothing written: write them again.
    ``search_later``: see keyword_copy.keyword_batch (the caller runs index_pending_search after committing).
    """
    account_id = tenancy.current_account_id()
    if account_id is None or sector.account_id != account_id:
        raise NotFound("That sector does not exist or you do not have access to it.")
    if direct is None:
        direct = sector_is_empty(sector.id)
    with keyword_batch(sector, account_id, source=source, direct=direct, progress=progress, total=total,
                       search_later=search_later) as batch:
        yield batch


def add_typed(*, sector_id: int, text: str) -> AddResult:
    """Add keywords typed one per line."""
    sector = get_sector(sector_id)
    if not (text or "").strip():
        raise ValidationError("Type at least one keyword, one per line.", field="keywords")
    try:
        result = parsing.parse_text(text)
    except parsing.ImportFileError as exc:
        raise ValidationError(exc.message, field="keywords") from None
    if len(result.records) > MAX_TYPED_KEYWORDS:
        raise ValidationError(f"Add at most {MAX_TYPED_KEYWORDS:,} keywords at a time by typing; "
                              "use Import for longer lists.", field="keywords")
    if not result.records:
        reasons = "; ".join(f"line {line}: {reason}" for line, reason in result.rejected[:3])
        raise ValidationError(f"No keyword could be added. {reasons}".strip(), field="keywords")
    added = insert_records(sector, result.records, source="manual")
    db.session.commit()
    return AddResult(added=added, duplicates=result.duplicates, existing=len(result.records) - added,
                     rejected=list(result.rejected))


# --- The table -------------------------------------------------------------------------------------------

def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(sector_id: int, flt: KeywordFilter, *, candidates: bool = True) -> list:
    """The filter as conditions on keywords. ``candidates=False`` leaves out the search index's list of
    candidate ids (the same rows; for the planner's row estimate, which reads the column statistics)."""
    conditions = [Keyword.sector_id == sector_id]
    if flt.status != "all":
        conditions.append(Keyword.status == flt.status)
    if flt.q:
        needle = parsing.normalize_keyword(flt.q)
        pattern = f"%{escape_like(needle)}%"
        conditions.append(Keyword.normalized.like(pattern, escape="\\"))
        if candidates and _candidate_search(sector_id, flt):
            # The trigram index of the search entries names the candidates (this sector's only), fetched by
            # primary key (an array, so the planner never trades that for a scan of the whole table); the
            # condition above stays the exact test.
            ids = (select(func.array_agg(keyword_search.c.keyword_id))
                   .where(keyword_search.c.normalized.like(pattern, escape="\\"),
                          keyword_search.c.sector_id == sector_id).scalar_subquery())
            conditions.append(Keyword.id == any_(cast(ids, ARRAY(Integer))))
    if flt.intent == "none":
        conditions.append(Keyword.intent.is_(None))
    elif flt.intent:
        conditions.append(Keyword.intent == flt.intent)
    if flt.volume_min is not None:
        conditions.append(Keyword.volume >= flt.volume_min)
    if flt.volume_max is not None:
        conditions.append(Keyword.volume <= flt.volume_max)
    if flt.difficulty_min is not None:
        conditions.append(Keyword.difficulty >= flt.difficulty_min)
    if flt.difficulty_max is not None:
        conditions.append(Keyword.difficulty <= flt.difficulty_max)
    if flt.unclustered:
        conditions.append(Keyword.cluster_id.is_(None))
    elif flt.cluster_id:
        conditions.append(Keyword.cluster_id == flt.cluster_id)
    return conditions


def _search_pending(sector_id: int, flt: KeywordFilter) -> bool:
    """Whether an import into the sector just committed and its search entries are still being added: then
    a search reads the sector's keywords directly (asked once per filter, i.e. once per request)."""
    cached = flt.__dict__.get("_search_pending")
    if cached is None or cached[0] != sector_id:
        cached = (sector_id, search_pending(sector_id))
        flt.__dict__["_search_pending"] = cached
    return cached[1]


def _entry_sort(sector_id: int, flt: KeywordFilter) -> bool:
    """Whether the page's order comes from the search entries (ENTRY_SORTS): not with a search (a trigram
    search sorts its candidates, see keyword_filter; a shorter one could match too few rows for walking an
    index to pay) nor while an import's entries are still being added."""
    return flt.sort in ENTRY_SORTS and not flt.q and not _search_pending(sector_id, flt)


# Above this many matching rows (by the planner's estimate) a count shown in the table is the estimate,
# labelled "about N": counting 100,000 rows on every page load is where the page time went.
COUNT_ESTIMATE_ABOVE = 5_000


class Count(int):
    """A row count; `estimated` when it is the query planner's estimate, rounded (shown as "about N")."""

    estimated = False

    @classmethod
    def about(cls, value: float) -> "Count":
        digits = max(len(str(int(value))) - 2, 0)
        count = cls(int(round(value, -digits)))
        count.estimated = True
        return count


def _planner_estimate(conditions: list) -> float:
    """Rows the PostgreSQL planner expects for these conditions (EXPLAIN, nothing is read)."""
    # Bound parameters, never literals: the conditions carry the user's search text.
    compiled = select(Keyword.id).where(*conditions).compile(dialect=db.engine.dialect)
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return float(plan[0]["Plan"]["Plan Rows"])


def cheap_count(conditions: list, estimate_conditions: list | None = None) -> int:
    """Exact count, or the planner's estimate (a Count marked estimated) when that is above the threshold.

    ``estimate_conditions``: the same rows described for the estimate (see _conditions' ``candidates``)."""
    if db.session.get_bind().dialect.name == "postgresql":
        estimate = _planner_estimate(estimate_conditions if estimate_conditions is not None else conditions)
        if estimate > COUNT_ESTIMATE_ABOVE:
            return Count.about(estimate)
    return db.session.scalar(select(func.count()).select_from(Keyword).where(*conditions)) or 0


def query_keywords(sector_id: int, flt: KeywordFilter, *, summary: dict | None = None) -> tuple[list[Keyword], int]:
    """One page of the filtered, sorted table and the number of matching rows."""
    counted_with_page = False
    if summary is not None and not flt.is_filtered:
        total = summary["active"]  # the unfiltered table: already counted for the page header
    elif _candidate_search(sector_id, flt) and db.session.get_bind().dialect.name == "postgresql":
        # A search fetches its candidates by id; counting them in a statement of their own fetched them twice.
        # When the count is to be exact, the page's statement counts its matches as well (a window count).
        estimate = _planner_estimate(_conditions(sector_id, flt, candidates=False))
        total = Count.about(estimate) if estimate > COUNT_ESTIMATE_ABOVE else None
        counted_with_page = total is None
    else:
        total = cheap_count(_conditions(sector_id, flt), _conditions(sector_id, flt, candidates=False))
    if counted_with_page:
        rows, total = _page(sector_id, flt, with_total=True)
        if rows or flt.page == 1:
            return rows, total
        total = cheap_count(_conditions(sector_id, flt))  # a page past the end: count, then show the last page
    pages = max(1, -(-total // flt.per_page))
    if flt.page > pages:
        flt.page = pages
    return _page(sector_id, flt)[0], total


def _candidate_search(sector_id: int, flt: KeywordFilter) -> bool:
    """Whether the filter's search names its candidates from the search entries (see _conditions)."""
    return is_trigram_search(flt) and not _search_pending(sector_id, flt)


def _page(sector_id: int, flt: KeywordFilter, *, with_total: bool = False) -> tuple[list[Keyword], int]:
    """The rows of the filter's current page (and, ``with_total``, the number of matching rows, else 0)."""
    query = select(Keyword, func.count().over()) if with_total else select(Keyword)
    query = query.where(*_conditions(sector_id, flt))
    if _entry_sort(sector_id, flt):
        # Difficulty and CPC: walk the search entries' index of the sector in that order, fetching each
        # keyword by id, until a page matches (instead of sorting every matching keyword of the sector).
        query = (query.join(keyword_search, keyword_search.c.keyword_id == Keyword.id)
                 .where(keyword_search.c.sector_id == sector_id).order_by(*_order_by(flt, entries=True)))
    else:
        query = query.order_by(*_order_by(flt))
    query = query.offset((flt.page - 1) * flt.per_page).limit(flt.per_page)
    if flt.sort == "cluster":
        query = query.outerjoin(Cluster, Cluster.id == Keyword.cluster_id)
    total = 0
    if with_total:
        found = db.session.execute(query).all()
        rows = [keyword for keyword, _ in found]
        total = found[0][1] if found else 0
    else:
        rows = list(db.session.scalars(query))
    # Cluster names for this page only: joining them before the sort would join every matching row.
    cluster_ids = {k.cluster_id for k in rows if k.cluster_id is not None}
    names = dict(db.session.execute(select(Cluster.id, Cluster.name).where(Cluster.id.in_(cluster_ids)))
                 .tuples().all()) if cluster_ids else {}
    for keyword in rows:
        keyword.cluster_name = names.get(keyword.cluster_id)
    return rows, total


def sector_summary(sector_id: int) -> dict:
    """Counts for the page header: all, unclustered, archived (each an index-only count)."""
    in_sector = Keyword.sector_id == sector_id
    total = cheap_count([in_sector])
    unclustered = cheap_count([in_sector, Keyword.status == "active", Keyword.cluster_id.is_(None)])
    archived = db.session.scalar(select(func.count()).select_from(Keyword)
                                 .where(in_sector, Keyword.status == "archived")) or 0
    active = Count.about(total - archived) if getattr(total, "estimated", False) else total - archived
    return {"total": total, "unclustered": unclustered, "archived": archived, "active": active}


def selected_ids(sector_id: int, *, ids: list[int], all_matching: bool, flt: KeywordFilter) -> list[int]:
    """The keyword ids an action applies to: the ticked ones, or every row matching the filter."""
    if all_matching:
        return list(db.session.scalars(select(Keyword.id).where(*_conditions(sector_id, flt))))
    if not ids:
        raise ValidationError("Select at least one keyword first.")
    found = list(db.session.scalars(select(Keyword.id).where(Keyword.sector_id == sector_id,
                                                             Keyword.id.in_(ids))))
    if not found:
        raise NotFound("Those keywords do not exist or you do not have access to them.")
    return found


def _chunks(ids: list[int], size: int = 10_000) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def delete_keywords(ids: list[int]) -> int:
    """Delete keywords (their clusters stay)."""
    removed = 0
    for chunk in _chunks(ids):
        removed += db.session.execute(delete(Keyword).where(Keyword.id.in_(chunk))
                                      .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return removed


def set_status(ids: list[int], status: str) -> int:
    if status not in KEYWORD_STATUSES:
        raise ValidationError("Unknown status.")
    changed = 0
    for chunk in _chunks(ids):
        changed += db.session.execute(update(Keyword).where(Keyword.id.in_(chunk)).values(status=status)
                                      .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed


def set_intent(ids: list[int], intent: str) -> int:
    if intent not in (*INTENTS, "none"):
        raise ValidationError("Choose an intent: informational, commercial, transactional or navigational.",
                              field="intent")
    changed = 0
    for chunk in _chunks(ids):
        changed += db.session.execute(update(Keyword).where(Keyword.id.in_(chunk))
                                      .values(intent=None if intent == "none" else intent)
                                      .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed


def move_to_sector(ids: list[int], *, from_sector_id: int, to_sector_id: int) -> tuple[int, int]:
    """Move keywords to another sector (they leave their clusters); ones the target has already stay put."""
    target = get_sector(to_sector_id)
    if target.id == from_sector_id:
        raise ValidationError("Choose a different sector to move the keywords to.", field="sector_id")
    moved = skipped = 0
    for chunk in _chunks(ids):
        taken = select(Keyword.normalized).where(Keyword.sector_id == target.id).scalar_subquery()
        result = db.session.execute(
            update(Keyword).where(Keyword.id.in_(chunk), Keyword.normalized.not_in(taken))
            .values(sector_id=target.id, site_id=target.site_id, cluster_id=None)
            .execution_options(synchronize_session=False))
        moved += result.rowcount
        skipped += len(chunk) - result.rowcount
    db.session.commit()
    return moved, skipped


def update_field(keyword_id: int, name: str, value: str) -> Keyword:
    """Inline edit of one cell, validated like an import."""
    keyword = get_keyword(keyword_id)
    value = (value or "").strip()
    if name == "keyword":
        display, key = parsing.clean_display(value), parsing.normalize_keyword(value)
        if not key:
            raise ValidationError("A keyword cannot be empty.", field="keyword")
        if len(display) > 200:
            raise ValidationError("Keep keywords under 200 characters.", field="keyword")
        clash = db.session.scalars(select(Keyword.id).where(
            Keyword.sector_id == keyword.sector_id, Keyword.normalized == key, Keyword.id != keyword.id)).first()
        if clash:
            raise ValidationError(f"“{display}” is already in this sector.", field="keyword")
        keyword.keyword, keyword.normalized = display, key
    elif name == "volume":
        if not value:
            keyword.volume = keyword.volume_text = None
        else:
            number, as_given = parsing.parse_volume(value)
            if number is None:
                raise ValidationError(f"Volume “{value[:20]}” is not a number.", field="volume")
            keyword.volume, keyword.volume_text = number, (as_given if as_given != str(number) else None)
    elif name == "difficulty":
        if not value:
            keyword.difficulty = None
        else:
            try:
                number = int(float(value.rstrip("%")))
            except ValueError:
                raise ValidationError(f"Difficulty “{value[:20]}” is not a number.", field="difficulty") from None
            if not 0 <= number <= 100:
                raise ValidationError("Difficulty is between 0 and 100.", field="difficulty")
            keyword.difficulty = number
    elif name == "cpc":
        if not value:
            keyword.cpc = None
        else:
            try:
                number = Decimal(value.lstrip("$€£").replace(",", "."))
            except InvalidOperation:
                raise ValidationError(f"CPC “{value[:20]}” is not an amount.", field="cpc") from None
            if number < 0 or number > Decimal("99999999"):
                raise ValidationError("CPC must be a positive amount.", field="cpc")
            keyword.cpc = number.quantize(Decimal("0.01"))
    elif name == "intent":
        if value and value not in INTENTS:
            raise ValidationError("Choose an intent: informational, commercial, transactional or navigational.",
                                  field="intent")
        keyword.intent = value or None
    else:
        raise ValidationError("That column cannot be edited.")
    db.session.commit()
    return keyword


EXPORT_COLUMNS = ("Keyword", "Search Volume", "Volume (as given)", "Keyword Difficulty", "CPC", "Currency",
                  "Intent", "Cluster", "Status")


def export_csv(sector_id: int, flt: KeywordFilter) -> Iterator[str]:
    """The filtered set as CSV (UTF-8 with BOM so spreadsheets open it right), streamed in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    query = (select(Keyword.keyword, Keyword.volume, Keyword.volume_text, Keyword.difficulty, Keyword.cpc,
                    Keyword.cpc_currency, Keyword.intent, Cluster.name, Keyword.status)
             .outerjoin(Cluster, Cluster.id == Keyword.cluster_id)
             .where(*_conditions(sector_id, flt)).order_by(*_order_by(flt)))
    for row in db.session.execute(query.execution_options(yield_per=2000)):
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def sectors_for_move(sector: Sector) -> list[Sector]:
    """Other sectors the person may move keywords to."""
    return list(db.session.scalars(select(Sector).where(Sector.id != sector.id).options(joinedload(Sector.site))
                                   .order_by(Sector.site_id, Sector.name)))


def clusters_for_filter(sector_id: int) -> list[tuple[int, str]]:
    return list(db.session.execute(select(Cluster.id, Cluster.name).where(Cluster.sector_id == sector_id)
                                   .order_by(Cluster.name).limit(2000)))

