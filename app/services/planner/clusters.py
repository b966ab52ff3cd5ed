"""Clusters of a sector: list them with their keyword and idea figures, look at one, and edit them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, delete, func, or_, select, update

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models.planner import INTENTS, Cluster, Idea, Keyword, Task

CLUSTER_SORTS = ("name", "keywords", "volume", "difficulty", "ideas", "created")
KEYWORD_SORTS = ("keyword", "volume", "difficulty", "intent", "created")
NAME_MAX = 200
DESCRIPTION_MAX = 2000
# The intent filter's value for clusters that have no intent yet.
NO_INTENT = "none"
SECTOR_MISMATCH = "Clusters can only be merged within one sector. Choose clusters of the active sector only."


@dataclass(frozen=True)
class ClusterRow:
    """A cluster with its figures, as the list and the detail page show them."""

    cluster: Cluster
    keyword_count: int
    total_volume: int
    avg_difficulty: float | None
    ideas_count: int


@dataclass(frozen=True)
class MergeResult:
    target: Cluster
    clusters_merged: int
    keywords_moved: int
    ideas_moved: int


def _keyword_figures(sector_id: int, cluster_ids: list[int] | None = None):
    """Per-cluster keyword count, volume and difficulty of a sector, in one GROUP BY."""
    query = (
        select(Keyword.cluster_id.label("cluster_id"),
               func.count(Keyword.id).label("keyword_count"),
               func.coalesce(func.sum(Keyword.volume), 0).label("total_volume"),
               func.avg(Keyword.difficulty).label("avg_difficulty"))
        .where(Keyword.sector_id == sector_id, Keyword.cluster_id.is_not(None))
        .group_by(Keyword.cluster_id)
    )
    if cluster_ids is not None:
        query = query.where(Keyword.cluster_id.in_(cluster_ids))
    return query.subquery("kw")


def _idea_figures(sector_id: int, cluster_ids: list[int] | None = None):
    """Per-cluster idea count of a sector, in one GROUP BY."""
    query = (
        select(Idea.cluster_id.label("cluster_id"), func.count(Idea.id).label("ideas_count"))
        .where(Idea.sector_id == sector_id, Idea.cluster_id.is_not(None))
        .group_by(Idea.cluster_id)
    )
    if cluster_ids is not None:
        query = query.where(Idea.cluster_id.in_(cluster_ids))
    return query.subquery("ic")


def _with_figures(query: Select, kw, ic) -> Select:
    return query.outerjoin(kw, kw.c.cluster_id == Cluster.id).outerjoin(ic, ic.c.cluster_id == Cluster.id)


def _figure_columns(kw, ic):
    return (
        func.coalesce(kw.c.keyword_count, 0).label("keyword_count"),
        func.coalesce(kw.c.total_volume, 0).label("total_volume"),
        kw.c.avg_difficulty.label("avg_difficulty"),
        func.coalesce(ic.c.ideas_count, 0).label("ideas_count"),
    )


def _figures_for(sector_id: int, ids: list[int]) -> dict[int, tuple]:
    """Figures of a few clusters of a sector, aggregated only over their own keywords and ideas."""
    if not ids:
        return {}
    kw, ic = _keyword_figures(sector_id, ids), _idea_figures(sector_id, ids)
    rows = db.session.execute(
        _with_figures(select(Cluster.id, *_figure_columns(kw, ic)), kw, ic).where(Cluster.id.in_(ids)))
    return {row[0]: tuple(row)[1:] for row in rows}


def _row(cluster: Cluster, keyword_count, total_volume, avg_difficulty, ideas_count) -> ClusterRow:
    return ClusterRow(cluster=cluster, keyword_count=int(keyword_count or 0), total_volume=int(total_volume or 0),
                      avg_difficulty=float(avg_difficulty) if avg_difficulty is not None else None,
                      ideas_count=int(ideas_count or 0))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cluster_filters(*, sector_id: int, q: str, intent: str | None) -> list:
    conditions = [Cluster.sector_id == sector_id]
    q = (q or "").strip()
    if q:
        pattern = f"%{_escape_like(q)}%"
        conditions.append(or_(Cluster.name.ilike(pattern, escape="\\"),
                              Cluster.description.ilike(pattern, escape="\\")))
    if intent == NO_INTENT:
        conditions.append(Cluster.intent.is_(None))
    elif intent in INTENTS:
        conditions.append(Cluster.intent == intent)
    return conditions


def list_clusters(*, sector_id: int, q: str = "", intent: str | None = None, sort: str = "volume",
                  direction: str = "desc", page: int = 1,
                  per_page: int = 50) -> tuple[list[ClusterRow], int]:
    """One page of a sector's clusters with their figures, and how many match in all."""
    if sort not in CLUSTER_SORTS:
        sort = "volume"
    descending = direction != "asc"
    page = max(1, page)
    per_page = max(1, min(per_page, 500))
    conditions = _cluster_filters(sector_id=sector_id, q=q, intent=intent)
    total = db.session.scalar(select(func.count(Cluster.id)).where(*conditions)) or 0
    # The figures are the cluster's own columns, kept exact by triggers: no aggregate per page load.
    average = Cluster.difficulty_sum * 1.0 / func.nullif(Cluster.difficulty_n, 0)
    key = {"name": func.lower(Cluster.name), "created": Cluster.created_at, "keywords": Cluster.keyword_count,
           "volume": Cluster.volume_sum, "difficulty": average, "ideas": Cluster.ideas_count}[sort]
    order = [(key.desc() if descending else key.asc()).nulls_last(),
             Cluster.id.desc() if descending else Cluster.id.asc()]
    clusters = db.session.scalars(
        select(Cluster).where(*conditions).order_by(*order).offset((page - 1) * per_page).limit(per_page)
        .execution_options(populate_existing=True))  # figures a trigger changed in this transaction
    return [_own_row(c) for c in clusters], total


def _own_row(cluster: Cluster) -> ClusterRow:
    average = cluster.difficulty_sum / cluster.difficulty_n if cluster.difficulty_n else None
    return _row(cluster, cluster.keyword_count, cluster.volume_sum, average, cluster.ideas_count)


def get_cluster(cluster_id: int) -> Cluster:
    """A visible cluster, or NotFound."""
    cluster = db.session.scalars(select(Cluster).where(Cluster.id == cluster_id)).first()
    if cluster is None:
        raise NotFound("That cluster does not exist or you do not have access to it.")
    return cluster


def cluster_summary(cluster_id: int) -> ClusterRow:
    """A cluster with its keyword count, total volume, average difficulty and idea count."""
    cluster = get_cluster(cluster_id)
    return _row(cluster, *_figures_for(cluster.sector_id, [cluster.id])[cluster.id])


def merge_preview(*, sector_id: int, cluster_ids: list[int]) -> list[ClusterRow]:
    """The clusters chosen for a merge with their figures, largest first, after checking they can merge."""
    ids = _unique(cluster_ids)
    clusters = _clusters_by_id(ids)
    if any(c.sector_id != sector_id for c in clusters.values()):
        raise ValidationError(SECTOR_MISMATCH, field="cluster_ids")
    if len(ids) < 2:
        raise ValidationError("Select at least two clusters to merge.", field="cluster_ids")
    figures = _figures_for(sector_id, ids)
    rows = [_row(clusters[i], *figures[i]) for i in ids]
    return sorted(rows, key=lambda r: (-r.keyword_count, -r.total_volume, r.cluster.id))


def cluster_keywords(cluster_id: int, *, sort: str = "volume", direction: str = "desc", page: int = 1,
                     per_page: int = 100) -> tuple[list[Keyword], int]:
    """One page of a cluster's keywords and how many it has."""
    cluster = get_cluster(cluster_id)
    if sort not in KEYWORD_SORTS:
        sort = "volume"
    descending = direction != "asc"
    page = max(1, page)
    per_page = max(1, min(per_page, 500))
    conditions = [Keyword.sector_id == cluster.sector_id, Keyword.cluster_id == cluster.id]
    total = db.session.scalar(select(func.count(Keyword.id)).where(*conditions)) or 0
    key = {"keyword": Keyword.normalized, "volume": Keyword.volume, "difficulty": Keyword.difficulty,
           "intent": Keyword.intent, "created": Keyword.created_at}[sort]
    order = [(key.desc() if descending else key.asc()).nulls_last(),
             Keyword.id.desc() if descending else Keyword.id.asc()]
    keywords = list(db.session.scalars(
        select(Keyword).where(*conditions).order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    return keywords, total


def cluster_ideas(cluster_id: int) -> list[Idea]:
    """The cluster's ideas, newest first."""
    cluster = get_cluster(cluster_id)
    return list(db.session.scalars(
        select(Idea).where(Idea.sector_id == cluster.sector_id, Idea.cluster_id == cluster.id)
        .order_by(Idea.created_at.desc(), Idea.id.desc())))


def cluster_choices(*, sector_id: int, exclude_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of every cluster of the sector, by name, for "move to" menus."""
    query = select(Cluster.id, Cluster.name).where(Cluster.sector_id == sector_id)
    if exclude_id is not None:
        query = query.where(Cluster.id != exclude_id)
    return [(row.id, row.name) for row in db.session.execute(query.order_by(func.lower(Cluster.name), Cluster.id))]


def rename(*, cluster_id: int, name: str, description: str) -> Cluster:
    """Change a cluster's name and description."""
    cluster = get_cluster(cluster_id)
    name = " ".join((name or "").split())
    description = (description or "").strip()
    if not name:
        raise ValidationError("Give the cluster a name.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Keep the name to {NAME_MAX} characters or fewer.", field="name")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(f"Keep the description to {DESCRIPTION_MAX:,} characters or fewer.",
                              field="description")
    cluster.name = name
    cluster.description = description
    db.session.commit()
    return cluster


def set_intent(*, cluster_id: int, intent: str | None) -> Cluster:
    """Set the cluster's search intent, or clear it with None."""
    cluster = get_cluster(cluster_id)
    intent = (intent or "").strip().lower() or None
    if intent is not None and intent not in INTENTS:
        raise ValidationError("Choose an intent from the list: " + ", ".join(INTENTS) + ".", field="intent")
    cluster.intent = intent
    db.session.commit()
    return cluster


def _clusters_by_id(ids: list[int]) -> dict[int, Cluster]:
    """Every asked-for cluster, or NotFound if one is missing or not visible."""
    found = {c.id: c for c in db.session.scalars(select(Cluster).where(Cluster.id.in_(ids)))}
    if len(found) != len(set(ids)):
        raise NotFound("One of those clusters does not exist or you do not have access to it.")
    return found


def _unique(ids) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def merge(*, target_id: int, source_ids: list[int], sector_id: int | None = None) -> MergeResult:
    """Move the sources' keywords, ideas and tasks into the target and delete the sources."""
    sources = _unique(source_ids)
    if target_id in sources:
        raise ValidationError("The cluster to merge into cannot also be one of the clusters merged into it.",
                              field="target_id")
    if not sources:
        raise ValidationError("Choose at least one other cluster to merge into this one.", field="cluster_ids")
    clusters = _clusters_by_id([target_id, *sources])
    target = clusters[target_id]
    home = sector_id if sector_id is not None else target.sector_id
    if any(c.sector_id != home for c in clusters.values()):
        raise ValidationError(SECTOR_MISMATCH, field="cluster_ids")
    in_sources = and_(Keyword.sector_id == home, Keyword.cluster_id.in_(sources))
    keywords_moved = db.session.execute(
        update(Keyword).where(in_sources).values(cluster_id=target.id)
        .execution_options(synchronize_session=False)).rowcount
    ideas_moved = db.session.execute(
        update(Idea).where(Idea.sector_id == home, Idea.cluster_id.in_(sources)).values(cluster_id=target.id)
        .execution_options(synchronize_session=False)).rowcount
    db.session.execute(
        update(Task).where(Task.sector_id == home, Task.cluster_id.in_(sources)).values(cluster_id=target.id)
        .execution_options(synchronize_session=False))
    db.session.execute(delete(Cluster).where(Cluster.id.in_(sources)).execution_options(synchronize_session=False))
    target.updated_at = func.now()
    db.session.commit()
    return MergeResult(target=target, clusters_merged=len(sources), keywords_moved=keywords_moved,
                       ideas_moved=ideas_moved)


def move_keywords(*, keyword_ids: list[int], to_cluster_id: int | None, sector_id: int | None = None) -> int:
    """Put keywords in another cluster of their sector, or back to unclustered with None."""
    ids = _unique(keyword_ids)
    if not ids:
        raise ValidationError("Select at least one keyword to move.", field="keyword_ids")
    sectors = {row.sector_id for row in db.session.execute(
        select(Keyword.sector_id).where(Keyword.id.in_(ids)).distinct())}
    found = db.session.scalar(select(func.count(Keyword.id)).where(Keyword.id.in_(ids))) or 0
    if found != len(ids):
        raise NotFound("One of those keywords does not exist or you do not have access to it.")
    if len(sectors) != 1 or (sector_id is not None and sectors != {sector_id}):
        raise ValidationError("Keywords can only be moved within one sector. Select keywords of the same sector.",
                              field="keyword_ids")
    home = sectors.pop()
    if to_cluster_id is not None:
        target = get_cluster(to_cluster_id)
        if target.sector_id != home:
            raise ValidationError("Keywords can only move to a cluster of their own sector.",
                                  field="to_cluster_id")
    moved = db.session.execute(
        update(Keyword).where(Keyword.id.in_(ids), Keyword.sector_id == home).values(cluster_id=to_cluster_id)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return moved


def delete_clusters(*, ids: list[int], sector_id: int | None = None) -> int:
    """Delete clusters; their keywords become unclustered and their ideas stay without a cluster."""
    ids = _unique(ids)
    if not ids:
        raise ValidationError("Select at least one cluster to delete.", field="cluster_ids")
    clusters = _clusters_by_id(ids)
    if sector_id is not None and any(c.sector_id != sector_id for c in clusters.values()):
        raise ValidationError("Only clusters of the active sector can be deleted here.", field="cluster_ids")
    # The foreign keys set cluster_id to NULL as well; doing it here also stamps updated_at.
    sectors = sorted({c.sector_id for c in clusters.values()})
    db.session.execute(
        update(Keyword).where(Keyword.sector_id.in_(sectors), Keyword.cluster_id.in_(ids)).values(cluster_id=None)
        .execution_options(synchronize_session=False))
    db.session.execute(delete(Cluster).where(Cluster.id.in_(ids)).execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids)
