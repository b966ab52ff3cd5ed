"""Planner: keywords, clusters, ideas, tasks and keyword imports (pipeline stages 1–3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import db
from app.models.ownership import SiteOwned

INTENTS = ("informational", "commercial", "transactional", "navigational")
KEYWORD_STATUSES = ("active", "archived")
CONTENT_TYPES = ("post", "page", "product", "service", "taxonomy")
STRUCTURES = ("guide", "how-to", "listicle", "comparison", "review", "question", "news")
IDEA_STATUSES = ("new", "queued", "archived")
TASK_STATUSES = ("queued", "in_progress", "completed", "failed")
IMPORT_STATUSES = ("preview", "running", "done", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Cluster(SiteOwned, db.Model):
    """A topic: keywords that one article (or a few) can answer."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    intent: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="semantic", server_default="semantic")
    # Normalised float32 centroid of its keywords' embeddings, for adding new keywords to it.
    centroid: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    # Its figures, kept exact by database triggers on keywords and ideas (migration 0008_planner_speed):
    # read-only here, so the clusters page needs no aggregate over the sector's keywords.
    keyword_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    volume_sum: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    difficulty_sum: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    difficulty_n: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    ideas_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)

    __table_args__ = (
        CheckConstraint(f"intent IS NULL OR {_in('intent', INTENTS)}", name="intent"),
    )


class Keyword(SiteOwned, db.Model):
    """A search keyword of a sector, with its metrics as the source tool gave them."""

    __tablename__ = "keywords"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Without their own indexes (each costs every insert): keyword reads always go by sector or cluster.
    # One composite key to the sector (below) instead of three, checked once per statement and sector.
    account_id: Mapped[int] = mapped_column(Integer)
    site_id: Mapped[int] = mapped_column(Integer)
    sector_id: Mapped[int] = mapped_column(Integer)
    keyword: Mapped[str] = mapped_column(String(200))
    normalized: Mapped[str] = mapped_column(String(200))
    volume: Mapped[int | None] = mapped_column(Integer)
    volume_text: Mapped[str | None] = mapped_column(String(40))  # as given, e.g. "1K – 10K"
    difficulty: Mapped[int | None] = mapped_column(SmallInteger)
    cpc: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    cpc_currency: Mapped[str | None] = mapped_column(String(8))
    intent: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    source: Mapped[str] = mapped_column(String(20), default="manual", server_default="manual")
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    cluster: Mapped[Cluster | None] = relationship()

    __table_args__ = (
        UniqueConstraint("sector_id", "normalized", name="uq_keywords_sector_normalized"),
        # Enforced by database triggers with the same effect (migration 0009_import_speed: one check per
        # statement and sector instead of one per row); declared here so the ORM orders its writes by it.
        ForeignKeyConstraint(["sector_id", "site_id", "account_id"], ["sectors.id", "sectors.site_id",
                             "sectors.account_id"], ondelete="CASCADE", name="fk_keywords_sector_site_account"),
        CheckConstraint(f"intent IS NULL OR {_in('intent', INTENTS)}", name="intent"),
        CheckConstraint(_in("status", KEYWORD_STATUSES), name="status"),
        CheckConstraint("difficulty IS NULL OR (difficulty >= 0 AND difficulty <= 100)", name="difficulty_range"),
        CheckConstraint("volume IS NULL OR volume >= 0", name="volume_not_negative"),
        # The keyword table: counts are index-only scans; the default sort (volume) walks its index so a
        # page of 50 stops after 50 rows, "keyword" walks the unique index and "newest" the primary key.
        # Each index costs every insert: difficulty and CPC sorts walk indexes of keyword_search (below).
        Index("ix_keywords_sector_filters", "sector_id", "status", "cluster_id",
              postgresql_include=["intent", "volume", "difficulty"]),
        # Only clustered keywords (an import adds nothing here); a cluster's figures are index-only.
        Index("ix_keywords_cluster", "cluster_id", postgresql_include=["volume", "difficulty"],
              postgresql_where=text("cluster_id IS NOT NULL")),
        Index("ix_keywords_sector_volume", "sector_id", text("volume DESC NULLS LAST"), text("id DESC")),
        # Text search ("contains") reads the trigram index of keyword_search (below), not one on this table.
    )


# The keyword search entries (keyword id, its sector, normalized text, sort keys) with the trigram index, kept by database triggers
# on keywords (migration 0009_import_speed). An import leaves its sector's entries to be added in one pass
# right after its report and marks the sector in keyword_search_pending meanwhile; a search of a marked
# sector reads its keywords directly. Not tenant-owned: only ever read as "these keyword ids", joined to
# keywords, which carry the tenancy criteria.
keyword_search = Table(
    "keyword_search", db.metadata,
    Column("keyword_id", Integer, primary_key=True),
    Column("sector_id", Integer, nullable=False),
    Column("normalized", String(200), nullable=False),
    # Copies of the keyword's difficulty and CPC, kept by the same triggers (migration 0010_page_sorts): the
    # keyword table's sorts by them walk these indexes instead of sorting the whole sector; an index on
    # keywords itself would cost every imported row (while a sector's entries are pending, those sorts
    # read its keywords directly).
    Column("difficulty", SmallInteger),
    Column("cpc", Numeric(10, 2)),
    Index("ix_keyword_search_trgm", "normalized", postgresql_using="gin",
          postgresql_ops={"normalized": "gin_trgm_ops"}, postgresql_with={"gin_pending_list_limit": 65536}),
    Index("ix_keyword_search_difficulty", "sector_id", "difficulty", "keyword_id"),
    Index("ix_keyword_search_cpc", "sector_id", text("cpc DESC NULLS LAST"), text("keyword_id DESC")),
)
keyword_search_pending = Table(
    "keyword_search_pending", db.metadata,
    Column("sector_id", Integer, ForeignKey("sectors.id", ondelete="CASCADE"), primary_key=True),
    Column("marked_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


class Idea(SiteOwned, db.Model):
    """An article idea for a cluster (stage 2)."""

    __tablename__ = "ideas"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id", ondelete="CASCADE"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    outline: Mapped[list] = mapped_column(JSON, default=list)  # [{"level": 2|3, "text": "…"}]
    content_type: Mapped[str] = mapped_column(String(20), default="post", server_default="post")
    structure: Mapped[str] = mapped_column(String(20), default="guide", server_default="guide")
    primary_keyword: Mapped[str] = mapped_column(String(200), default="", server_default="")
    secondary_keywords: Mapped[list] = mapped_column(JSON, default=list)
    target_words: Mapped[int] = mapped_column(Integer, default=1500, server_default="1500")
    status: Mapped[str] = mapped_column(String(20), default="new", server_default="new")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    cluster: Mapped[Cluster | None] = relationship()

    __table_args__ = (
        CheckConstraint(_in("content_type", CONTENT_TYPES), name="content_type"),
        CheckConstraint(_in("structure", STRUCTURES), name="structure"),
        CheckConstraint(_in("status", IDEA_STATUSES), name="status"),
        CheckConstraint("target_words > 0", name="target_words_positive"),
        Index("ix_ideas_sector_newest", "sector_id", text("id DESC")),  # the ideas list, newest first
        Index("ix_ideas_search", "title", "primary_keyword", postgresql_using="gin",  # "contains" search
              postgresql_ops={"title": "gin_trgm_ops", "primary_keyword": "gin_trgm_ops"}),
    )


class Task(SiteOwned, db.Model):
    """A writing task made from an idea (stage 3): everything the writer needs."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id", ondelete="CASCADE"), index=True)
    # One task per idea: a double click cannot make two.
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="SET NULL"), unique=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    outline: Mapped[list] = mapped_column(JSON, default=list)
    content_type: Mapped[str] = mapped_column(String(20), default="post", server_default="post")
    structure: Mapped[str] = mapped_column(String(20), default="guide", server_default="guide")
    primary_keyword: Mapped[str] = mapped_column(String(200), default="", server_default="")
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    target_words: Mapped[int] = mapped_column(Integer, default=1500, server_default="1500")
    author_profile_id: Mapped[int | None] = mapped_column(ForeignKey("author_profiles.id", ondelete="SET NULL"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("content_strategies.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    error: Mapped[str | None] = mapped_column(Text)  # why writing it failed (the Writer sets it)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    idea: Mapped[Idea | None] = relationship()
    cluster: Mapped[Cluster | None] = relationship()

    __table_args__ = (
        CheckConstraint(_in("content_type", CONTENT_TYPES), name="content_type"),
        CheckConstraint(_in("structure", STRUCTURES), name="structure"),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
    )


class KeywordImport(SiteOwned, db.Model):
    """One uploaded or pasted keyword file: kept for preview and mapping, then imported with a report."""

    __tablename__ = "keyword_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="", server_default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    shape: Mapped[dict] = mapped_column(JSON, default=dict)  # encoding, delimiter, header line, columns
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> column index
    status: Mapped[str] = mapped_column(String(20), default="preview", server_default="preview")
    total_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    imported: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # within the file
    existing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # already in the sector
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected_rows: Mapped[list] = deferred(mapped_column(JSON, default=list))  # [[line, reason], …]
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
    )
