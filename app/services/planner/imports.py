"""Keyword imports: upload or paste → preview with an editable column mapping → import → report.

The file is kept on the import row between the preview and the import, so the worker can read it when
a big file imports in the background. An import is one transaction: a file that turns out to be bad
leaves the sector exactly as it was.
"""

from __future__ import annotations

import csv
import gc
import io
from contextlib import contextmanager
from typing import Iterator
from sqlalchemy import select
from sqlalchemy.orm import load_only, undefer

from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import Job, KeywordImport
from app.services.job_kinds import JobKind, Progress, register
from app.services.planner import parsing
from app.services.planner import keyword_copy
from app.services.planner.keyword_copy import ConcurrentInsert
from app.services.planner.keywords import AddResult, get_sector, inserting
from app.timeutil import utcnow

# Files above this size (or row count) import as a background job with a progress bar.
BACKGROUND_BYTES = 256 * 1024
BACKGROUND_ROWS = 5_000
MAX_STORED_REJECTIONS = 50_000
JOB_KIND = "planner.keyword_import"


def _shape(imp: KeywordImport) -> parsing.FileShape:
    return parsing.FileShape.from_dict({**imp.shape, "mapping": imp.mapping})


def create(*, sector_id: int, data: bytes | str, filename: str, user_id: int | None) -> KeywordImport:
    """Check and keep an uploaded file (bytes) or pasted text (str); ValidationError names the problem."""
    sector = get_sector(sector_id)
    try:
        shape = parsing.inspect(data, filename=filename)
        if isinstance(data, str):
            data = data.encode("utf-8")
    except parsing.ImportFileError as exc:
        raise ValidationError(exc.message, field="file") from None
    imp = KeywordImport(account_id=sector.account_id, site_id=sector.site_id, sector_id=sector.id,
                        created_by_id=user_id, filename=(filename or "pasted keywords")[:255],
                        size_bytes=len(data), data=data, shape=shape.to_dict(), mapping=dict(shape.mapping),
                        status="preview")
    db.session.add(imp)
    db.session.commit()
    return imp


def create_from_text(*, sector_id: int, text: str, user_id: int | None) -> KeywordImport:
    """Pasted text goes through the same preview as a file."""
    if not (text or "").strip():
        raise ValidationError("Paste some keywords first (one per line, or rows copied with their header).",
                              field="text")
    return create(sector_id=sector_id, data=text, filename="pasted keywords", user_id=user_id)


def get_import(import_id: int, *, with_data: bool = False) -> KeywordImport:
    query = select(KeywordImport).where(KeywordImport.id == import_id)
    if with_data:
        query = query.options(undefer(KeywordImport.data))
    imp = db.session.scalars(query).first()
    if imp is None:
        raise NotFound("That import does not exist or you do not have access to it.")
    return imp


def recent_imports(sector_id: int, limit: int = 5) -> list[KeywordImport]:
    """The last imports' names and states (not their stored shape or up to 50,000 rejected rows)."""
    return list(db.session.scalars(select(KeywordImport).where(KeywordImport.sector_id == sector_id)
                                   .options(load_only(KeywordImport.filename, KeywordImport.status))
                                   .order_by(KeywordImport.id.desc()).limit(limit)))


def mapping_from_form(imp: KeywordImport, form) -> dict:
    """The mapping chosen on the preview (field → column index or None), validated."""
    columns = len(imp.shape.get("columns") or [])
    mapping = {}
    for name in parsing.FIELDS:
        raw = (form.get(f"map_{name}") or "").strip()
        if raw == "":
            mapping[name] = None
            continue
        try:
            index = int(raw)
        except ValueError:
            raise ValidationError(f"Choose a column for {parsing.FIELD_LABELS[name]}.", field=f"map_{name}") from None
        if not 0 <= index < max(columns, 1):
            raise ValidationError(f"Choose a column for {parsing.FIELD_LABELS[name]}.", field=f"map_{name}")
        mapping[name] = index
    if mapping.get("keyword") is None:
        raise ValidationError("Choose which column holds the keywords.", field="map_keyword")
    used = [v for v in mapping.values() if v is not None]
    if len(used) != len(set(used)):
        raise ValidationError("Each column can be used for one field only.", field="map_keyword")
    return mapping


def preview_rows(imp: KeywordImport, mapping: dict) -> list[dict]:
    """The first rows parsed with this mapping, as the import would store them (with any rejection)."""
    if mapping.get("keyword") is None:
        return []
    try:
        return _shape(imp).preview(mapping)
    except parsing.ImportFileError as exc:
        raise ValidationError(exc.message, field="map_keyword") from None


def preview_warnings(imp: KeywordImport, mapping: dict) -> list[str]:
    """Things to check before importing with this mapping (e.g. a volume-like column left unmapped)."""
    return _shape(imp).unmapped_volume_warnings(mapping)


def start(*, import_id: int, mapping: dict, user_id: int | None) -> KeywordImport:
    """Import with the chosen mapping: now for small files, in the background for big ones.

    A second click finds the import already started and changes nothing.
    """
    imp = db.session.scalars(select(KeywordImport).where(KeywordImport.id == import_id)
                             .with_for_update()).first()
    if imp is None:
        raise NotFound("That import does not exist or you do not have access to it.")
    if imp.status != "preview":
        raise Conflict("This file is already being imported or was imported. See its report below.")
    imp.mapping = mapping
    if imp.size_bytes > BACKGROUND_BYTES or (imp.shape.get("row_count") or 0) > BACKGROUND_ROWS:
        from app.services.jobs import enqueue_job

        imp.status = "running"
        db.session.flush()
        job = enqueue_job(kind=JOB_KIND, payload={"import_id": imp.id}, created_by_id=user_id,
                          site_id=imp.site_id, title=f"Import {imp.filename}")
        imp.job_id = job.id
        db.session.commit()
        return imp
    imp.status = "running"
    db.session.commit()
    run(imp.id)
    tidy_search_index(imp.sector_id)
    return get_import(imp.id)


def run(import_id: int, progress: Progress | None = None) -> AddResult:
    """Parse the whole file and insert it in one transaction, then write the report.

    The rows are handed to the database while the file is still being parsed (PostgreSQL adds them and
    their index entries on its own core meanwhile); a bad file rolls all of it back.
    """
    imp = get_import(import_id, with_data=True)
    sector = get_sector(imp.sector_id)
    if progress:
        progress("PREP", 10, "Reading the file…", force=True)
    expected = max(int(imp.shape.get("row_count") or 0), 1)

    def step(fraction: float) -> None:
        if progress:
            progress("SAVE", 10 + int(85 * fraction), f"Added about {int(fraction * expected):,} of {expected:,}…")

    data = imp.data.decode("utf-8") if imp.shape.get("source") == "text" else imp.data
    try:
        for attempt in (1, 2):
            try:
                with inserting(sector, source="import", progress=step, total=expected,
                               direct=None if attempt == 1 else False, search_later=True) as batch, \
                        _no_cycle_collection():
                    result = parsing.parse(data, imp.shape, imp.mapping, on_record=batch.write)
                break
            except ConcurrentInsert:
                continue  # someone added keywords to the empty sector meanwhile: again, skipping those
    except parsing.ImportFileError as exc:
        _fail(imp.id, exc.message)
        raise ValidationError(exc.message) from None
    except Exception:
        _fail(import_id, "The import stopped before it finished, so no keyword from this file was added. "
                         "Try again.")
        raise
    total, added = len(result.records), batch.added
    try:
        imp.imported = added
        imp.existing = total - added
        imp.duplicates = result.duplicates
        imp.rejected = len(result.rejected)
        imp.rejected_rows = [list(r) for r in result.rejected[:MAX_STORED_REJECTIONS]]
        imp.total_rows = total + result.duplicates + len(result.rejected)
        imp.status = "done"
        imp.finished_at = utcnow()
        imp.data = None  # the report is what is kept
        db.session.commit()
    except Exception:
        _fail(import_id, "The import stopped before it finished, so no keyword from this file was added. "
                         "Try again.")
        raise
    return AddResult(added=added, duplicates=result.duplicates, existing=total - added,
                     rejected=list(result.rejected))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a file is parsed: the parser makes a few objects per row (no
    cycles; reference counting frees them), and the collector's passes over the growing heap took ~20% of
    the parse."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def tidy_search_index(sector_id: int) -> None:
    """After the report is saved: add the search entries the import left out, in one pass.

    Until then searches of the sector read its keywords directly (exact, a little slower); if this never
    runs, the next import into the sector, or the minute tick, does it.
    """
    added = keyword_copy.index_pending_search(sector_id)
    db.session.commit()
    if added > keyword_copy.MERGE_SEARCH_INDEX_ABOVE:
        keyword_copy.analyze_search_entries()


def _fail(import_id: int, message: str) -> None:
    db.session.rollback()
    imp = get_import(import_id)
    imp.status = "failed"
    imp.error = message
    imp.finished_at = utcnow()
    db.session.commit()


def rejected_csv(imp: KeywordImport) -> str:
    """The rejected rows as a CSV a person can open: line number and reason."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["Line", "Reason"])
    for line, reason in imp.rejected_rows or []:
        writer.writerow([line, reason])
    return out.getvalue()


@register
class KeywordImportJob(JobKind):
    name = JOB_KIND
    title = "Keyword import"
    module = "planner"
    timeout = 1800

    def run(self, job: Job, progress: Progress) -> dict:
        result = run(job.payload["import_id"], progress)
        tidy_search_index(get_import(job.payload["import_id"]).sector_id)
        return {"summary": result.message(), "import_id": job.payload["import_id"], "added": result.added}

    def on_failure(self, job: Job) -> None:
        imp = db.session.scalars(select(KeywordImport).where(
            KeywordImport.id == job.payload.get("import_id"))).first()
        if imp is not None and imp.status == "running":
            imp.status = "failed"
            imp.error = imp.error or "The import stopped before it finished, so nothing was added. Try again."
            imp.finished_at = utcnow()
