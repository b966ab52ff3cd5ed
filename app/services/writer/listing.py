"""Writer → Content: the article list's filters and sorting, "all matching" for bulk actions, and CSV export.

Filters and sorting come from the query string (or the bulk form, which carries them so "all matching" means
what is on screen). Values that cannot be used are dropped with a message saying why, never a 500; sorting is
a whitelist of columns, always ending on the id so pages never overlap.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Numeric, case, cast, func, or_, select
from sqlalchemy.orm import aliased

from app import params
from app.errors import ValidationError
from app.extensions import db
from app.models import Cluster, ContentImage, CreditUsageLog, Sector
from app.models.planner import CONTENT_TYPES
from app.models.writer import CONTENT_STATUSES, Content
from app.services.paging import Page, paginate
from app.services.planner.ideas import like
from app.services.csv_safety import safe_cell

MAX_WORDS = 1_000_000
MAX_ALL_MATCHING = 500  # "apply to all matching" acts on at most this many articles at once
SORT_LABELS = {"created": "Created", "updated": "Updated", "title": "Title", "status": "Status", "words": "Words",
               "credits": "Credits"}
DEFAULT_SORT, DEFAULT_DIRECTION = "created", "desc"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_FIELDS = {"created": "Created", "updated": "Updated"}


def credits_spent():
    """An article's credits (text share + image prompt share + images) as SQL, the sum `costs.article_costs`
    shows, so the list can sort by it on the server."""
    text_usage = aliased(CreditUsageLog)
    tokens = text_usage.tokens_in + text_usage.tokens_out
    text = select(func.coalesce(func.sum(
        cast(text_usage.credits, Numeric) * (Content.tokens_in + Content.tokens_out) / func.nullif(tokens, 0)), 0)) \
        .where(text_usage.job_id == Content.job_id).correlate(Content).scalar_subquery()
    prompt_usage, own, sharing = aliased(CreditUsageLog), aliased(ContentImage), aliased(ContentImage)
    sharers = select(func.count(func.distinct(sharing.content_id))).where(
        sharing.prompt_job_id == prompt_usage.job_id).correlate(prompt_usage).scalar_subquery()
    prompt_runs = select(own.prompt_job_id).where(own.content_id == Content.id, own.prompt_job_id.is_not(None)) \
        .correlate(Content)
    prompts = select(func.coalesce(func.sum(cast(prompt_usage.credits, Numeric) / func.nullif(sharers, 0)), 0)) \
        .where(prompt_usage.job_id.in_(prompt_runs)).correlate(Content).scalar_subquery()
    images = select(func.coalesce(func.sum(ContentImage.credits), 0)).where(
        ContentImage.content_id == Content.id).correlate(Content).scalar_subquery()
    return text + prompts + images


def _sorts() -> dict:
    # column → (expression, its natural direction)
    return {"created": (Content.created_at, "desc"), "updated": (Content.updated_at, "desc"),
            "title": (func.lower(Content.title), "asc"),
            "status": (case({s: n for n, s in enumerate(CONTENT_STATUSES)}, value=Content.status, else_=99), "asc"),
            "words": (Content.word_count, "desc"), "credits": (credits_spent(), "desc")}


def _day(raw, label: str, errors: list[str]) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"“{text[:20]}” is not a date for “{label}”: use YYYY-MM-DD, e.g. 2026-03-31. "
                      "That date was not applied.")
        return None


@dataclass
class ContentFilters:
    status: str = ""
    content_type: str = ""
    cluster_id: int | None = None
    unclustered: bool = False
    q: str = ""
    min_words: int | None = None
    max_words: int | None = None
    images: str = ""  # "yes": has generated images; "no": has none
    date_field: str = "created"  # which date the range applies to
    date_from: date | None = None
    date_to: date | None = None
    sort: str = DEFAULT_SORT
    direction: str = DEFAULT_DIRECTION
    costs: bool = False  # show the cost column
    errors: list[str] = field(default_factory=list)  # what could not be applied, and why

    @classmethod
    def from_args(cls, args) -> "ContentFilters":
        """Filters from a query string (or the bulk form); a value that cannot be used is left out and named in
        `errors`."""
        errors: list[str] = []

        def choice(name: str, allowed, label: str) -> str:
            value = str(args.get(name, "") or "").strip()
            if value and value not in allowed:
                errors.append(f"“{value[:30]}” is not a {label}. That filter was not applied.")
                return ""
            return value

        def words(name: str, label: str) -> int | None:
            raw = str(args.get(name, "") or "").strip()
            if not raw:
                return None
            value = params.whole(raw)
            if value is None or not 0 <= value <= MAX_WORDS:
                errors.append(f"“{raw[:20]}” is not a word count for “{label}”: give a whole number from 0 to "
                              f"{MAX_WORDS:,}. That bound was not applied.")
                return None
            return value

        cluster_raw = str(args.get("cluster", "") or "").strip()
        cluster_id = params.parse_id(cluster_raw) if cluster_raw not in ("", "none") else None
        if cluster_raw not in ("", "none") and cluster_id is None:
            errors.append(f"“{cluster_raw[:20]}” is not a cluster. That filter was not applied.")
        min_words, max_words = words("min_words", "Words from"), words("max_words", "Words to")
        if min_words is not None and max_words is not None and min_words > max_words:
            errors.append(f"The word range is from {min_words:,} to {max_words:,}: the first number must not be "
                          "larger than the second. The word range was not applied.")
            min_words = max_words = None
        date_field = choice("date_field", DATE_FIELDS, "date to filter by (Created or Updated)") or "created"
        date_from = _day(args.get("date_from"), "From", errors)
        date_to = _day(args.get("date_to"), "To", errors)
        if date_from and date_to and date_from > date_to:
            errors.append(f"The date range starts on {date_from.isoformat()}, after it ends on "
                          f"{date_to.isoformat()}. The date range was not applied.")
            date_from = date_to = None
        sort = str(args.get("sort", "") or "").strip()
        if sort and sort not in SORT_LABELS:
            errors.append(f"The list cannot be sorted by “{sort[:30]}”; it can be sorted by "
                          f"{', '.join(v.lower() for v in SORT_LABELS.values())}. It is sorted by creation date.")
            sort = ""
        direction = str(args.get("direction", "") or "").strip()
        if direction and direction not in ("asc", "desc"):
            errors.append(f"“{direction[:20]}” is not a sort direction (asc or desc); the usual one was used.")
            direction = ""
        sort = sort or DEFAULT_SORT
        return cls(status=choice("status", CONTENT_STATUSES, "status"),
                   content_type=choice("type", CONTENT_TYPES, "content type"),
                   cluster_id=cluster_id, unclustered=cluster_raw == "none",
                   q=" ".join(str(args.get("q", "") or "").split())[:200], min_words=min_words, max_words=max_words,
                   images=choice("images", ("yes", "no"), "choice for images (yes or no)"),
                   date_field=date_field, date_from=date_from, date_to=date_to, sort=sort,
                   direction=direction or _sorts()[sort][1], costs=str(args.get("costs", "")) == "1",
                   errors=errors)

    def query(self, **changes) -> dict:
        """The filters and sorting as query-string arguments (for sort links, the pager, export and bulk)."""
        current = replace(self, **changes)
        natural = _sorts()[current.sort][1]
        values = {"status": current.status, "type": current.content_type, "q": current.q,
                  "cluster": "none" if current.unclustered else current.cluster_id,
                  "min_words": current.min_words, "max_words": current.max_words, "images": current.images,
                  "date_field": current.date_field if current.date_field != "created" and
                  (current.date_from or current.date_to) else "",
                  "date_from": current.date_from.isoformat() if current.date_from else "",
                  "date_to": current.date_to.isoformat() if current.date_to else "",
                  "sort": current.sort if current.sort != DEFAULT_SORT else "",
                  "direction": current.direction if current.direction != natural else "",
                  "costs": "1" if current.costs else ""}
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def is_filtered(self) -> bool:
        return bool(self.status or self.content_type or self.cluster_id or self.unclustered or self.q
                    or self.images or self.date_from or self.date_to
                    or self.min_words is not None or self.max_words is not None)

    def sort_link(self, column: str) -> dict:
        """The query for a column header: sort by it, or flip the direction when it is already the sort."""
        if self.sort == column:
            return self.query(direction="asc" if self.direction == "desc" else "desc")
        return self.query(sort=column, direction=_sorts()[column][1])


def _conditions(sector: Sector, filters: ContentFilters) -> list:
    where = [Content.sector_id == sector.id]
    if filters.status:
        where.append(Content.status == filters.status)
    if filters.content_type:
        where.append(Content.content_type == filters.content_type)
    if filters.cluster_id:
        where.append(Content.cluster_id == filters.cluster_id)
    elif filters.unclustered:
        where.append(Content.cluster_id.is_(None))
    if filters.min_words is not None:
        where.append(Content.word_count >= filters.min_words)
    if filters.max_words is not None:
        where.append(Content.word_count <= filters.max_words)
    if filters.images:
        made = select(ContentImage.id).where(ContentImage.content_id == Content.id,
                                             ContentImage.status == "generated").exists()
        where.append(made if filters.images == "yes" else ~made)
    column = Content.updated_at if filters.date_field == "updated" else Content.created_at
    if filters.date_from:  # whole days in UTC, both ends included
        where.append(column >= datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc))
    if filters.date_to:
        where.append(column < datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=timezone.utc))
    if filters.q:
        pattern = like(filters.q)
        where.append(or_(Content.title.ilike(pattern), Content.primary_keyword.ilike(pattern)))
    return where


def _order_by(filters: ContentFilters) -> tuple:
    column, _ = _sorts()[filters.sort]
    if filters.direction == "asc":
        return column.asc().nulls_first(), Content.id.asc()
    return column.desc().nulls_last(), Content.id.desc()


def _filtered(sector: Sector, filters: ContentFilters):
    return select(Content).where(*_conditions(sector, filters)).order_by(*_order_by(filters))


def list_content(*, sector: Sector, filters: ContentFilters, page: int = 1) -> Page:
    """The sector's articles matching the filters, in the chosen order."""
    return paginate(_filtered(sector, filters), page)


def sector_clusters(sector: Sector) -> list[tuple[int, str]]:
    """(id, name) of the sector's clusters that have articles, for the cluster filter."""
    with_articles = select(Content.cluster_id).where(Content.sector_id == sector.id, Content.cluster_id.is_not(None))
    return list(db.session.execute(select(Cluster.id, Cluster.name).where(Cluster.id.in_(with_articles))
                                   .order_by(func.lower(Cluster.name), Cluster.id)).all())


def matching_ids(*, sector: Sector, filters: ContentFilters) -> list[int]:
    """Every article the filters match (for "apply to all matching"); refused when a filter could not be applied
    (acting on more than was meant) or when there are too many."""
    if filters.errors:
        raise ValidationError("Nothing was changed, because a filter could not be applied: " + filters.errors[0])
    ids = list(db.session.scalars(select(Content.id).where(*_conditions(sector, filters))
                                  .order_by(*_order_by(filters)).limit(MAX_ALL_MATCHING + 1)))
    if not ids:
        raise ValidationError("No article matches these filters; nothing was changed.")
    if len(ids) > MAX_ALL_MATCHING:
        raise ValidationError(f"More than {MAX_ALL_MATCHING} articles match these filters; narrow them down to at "
                              f"most {MAX_ALL_MATCHING} and try again. Nothing was changed.")
    return ids


EXPORT_COLUMNS = ("ID", "Title", "Status", "Type", "Structure", "Cluster", "Primary keyword", "Words", "Slug",
                  "Meta title", "Meta description", "Model", "Created", "Updated")


def export_csv(*, sector: Sector, filters: ContentFilters) -> Iterator[str]:
    """The filtered articles in the list's order as CSV (UTF-8 with BOM for spreadsheets), streamed in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    stmt = select(Content, Cluster.name).outerjoin(Cluster, Cluster.id == Content.cluster_id) \
        .where(*_conditions(sector, filters)).order_by(*_order_by(filters)).execution_options(yield_per=500)
    for c, cluster in db.session.execute(stmt):
        writer.writerow([safe_cell(v) for v in (
            c.id, c.title, c.status, c.content_type, c.structure, cluster or "", c.primary_keyword, c.word_count,
            c.slug, c.meta_title, c.meta_description, c.model_used, c.created_at.strftime("%Y-%m-%d %H:%M"),
            c.updated_at.strftime("%Y-%m-%d %H:%M"))])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
