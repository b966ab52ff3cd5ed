"""Stage 1: keywords → clusters.

Two modes, both started by hand from the keyword table (and later by automation) through `start`:

- semantic (default): embeddings computed locally with the shipped model, clustered with a tightness
  control; keywords close enough to an existing cluster join it. Names, descriptions and intents then
  come from the cluster-naming AI function; with the offline demo model a deterministic name (the
  highest-volume keyword) is kept instead. Priced per keyword (operation price "clustering") plus the
  naming tokens.
- llm: for small selections the model groups the keywords itself (an AI function through the framework).
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import undefer

from app import tenancy
from app.errors import DomainError, ValidationError
from app.extensions import db
from app.models import AIModel, Cluster, CreditReservation, Job, Keyword, OperationPrice
from app.models.planner import INTENTS
from app.queue import redis_connection
from app.services.billing import credits
from app.services.ai import catalogue
from app.services.ai import framework
from app.services.ai.cluster_naming import ClusterNaming, _guess_intent
from app.services.ai.output import clean_text
from app.services.ai.providers import TextResult, provider_for
from app.services.job_kinds import JobKind, Progress, register
from app.services.planner import llm_grouping  # noqa: F401  (registers the LLM mode's AI function)
from app.services.planner.keywords import get_sector

MODES = ("semantic", "llm")
LLM_MAX_KEYWORDS = 150
MAX_KEYWORDS = 100_000
NAMING_GROUPS_PER_CALL = 20
NAMING_KEYWORDS_PER_GROUP = 12
SELECTION_TTL = 3600
JOB_KIND = "planner.cluster"
DEFAULT_TIGHTNESS = 50  # shown 0–100; the engine takes 0.0–1.0


@dataclass
class Plan:
    sector_id: int
    keyword_ids: list[int]
    mode: str
    tightness: int
    join_existing: bool
    tier: str
    name_with_ai: bool
    model: AIModel
    local_credits: int
    naming_credits: int

    @property
    def total(self) -> int:
        return self.local_credits + self.naming_credits


# --- Selections: "cluster these" carries ids from the table to the estimate page -------------------------

def _selection_key(token: str) -> str:
    return f"igny8:selection:{tenancy.current_account_id()}:{token}"


def remember_selection(ids: list[int]) -> str:
    """Keep a selection for an hour under a random token (the id list can be long)."""
    token = secrets.token_urlsafe(12)
    redis_connection().set(_selection_key(token), json.dumps(ids), ex=SELECTION_TTL)
    return token


def load_selection(token: str) -> list[int]:
    raw = redis_connection().get(_selection_key(token)) if token else None
    if raw is None:
        raise ValidationError("That selection has expired. Select the keywords again.")
    return [int(i) for i in json.loads(raw)]


def keyword_ids_for(*, sector_id: int, selection: str | None, scope: str | None) -> list[int]:
    """The active keywords of the sector a clustering run is about."""
    query = select(Keyword.id).where(Keyword.sector_id == sector_id, Keyword.status == "active")
    if scope == "unclustered":
        query = query.where(Keyword.cluster_id.is_(None))
    elif selection:
        ids = load_selection(selection)
        found = []
        for start in range(0, len(ids), 10_000):
            found += db.session.scalars(query.where(Keyword.id.in_(ids[start:start + 10_000])))
        return sorted(found)
    else:
        raise ValidationError("Choose keywords to cluster first.")
    return list(db.session.scalars(query.order_by(Keyword.id)))


# --- Planning and estimates -----------------------------------------------------------------------------

def _price() -> OperationPrice | None:
    return db.session.scalars(select(OperationPrice).where(OperationPrice.operation == "clustering")).first()


def _local_credits(count: int) -> int:
    price = _price()
    if price is None:
        return credits.estimate_from_price(units=count, credits_per_unit=0.05, min_credits=1)
    return credits.estimate_from_price(units=count, credits_per_unit=price.credits_per_unit,
                                       min_credits=price.min_credits)


def _expected_groups(count: int, tightness: int) -> int:
    # Typical cluster sizes on real keyword lists: about 8 keywords when loose, 4 when tight.
    average = 8 - 4 * (tightness / 100)
    return max(1, round(count / average))


def _naming_credits(model: AIModel, groups: int) -> int:
    if model.provider.kind == "demo":
        return 0
    prompt = 600 + groups * NAMING_KEYWORDS_PER_GROUP * 6
    answer = groups * 80
    calls = -(-groups // NAMING_GROUPS_PER_CALL)
    return catalogue.credits_for_tokens(model, prompt + answer + calls * 300)


def plan(*, sector_id: int, keyword_ids: list[int], mode: str = "semantic", tightness: int = DEFAULT_TIGHTNESS,
         join_existing: bool = True, tier: str = "testing") -> Plan:
    """Check a clustering request and price it; refuses (ValidationError) before anything is spent."""
    get_sector(sector_id)
    if mode not in MODES:
        raise ValidationError("Choose semantic or LLM clustering.", field="mode")
    if not keyword_ids:
        raise ValidationError("There are no active keywords to cluster in this selection.")
    if len(keyword_ids) > MAX_KEYWORDS:
        raise ValidationError(f"Cluster at most {MAX_KEYWORDS:,} keywords at once; you chose "
                              f"{len(keyword_ids):,}. Nothing was charged.")
    if not 0 <= tightness <= 100:
        raise ValidationError("Tightness is between 0 and 100.", field="tightness")
    if tier not in ("testing", "live"):
        raise ValidationError("Choose the Testing or the Live model.", field="tier")
    model = catalogue.model_for(model_type="text", tier=tier)
    catalogue.check_usable(model)
    if mode == "llm":
        if len(keyword_ids) > LLM_MAX_KEYWORDS:
            raise ValidationError(f"LLM clustering takes at most {LLM_MAX_KEYWORDS} keywords (you chose "
                                  f"{len(keyword_ids):,}). Use semantic clustering for bigger selections.",
                                  field="mode")
        estimate = framework.estimate(function="keyword_grouping", tier=tier, model_pk=model.id,
                                      payload={"sector_id": sector_id, "keyword_ids": keyword_ids})
        return Plan(sector_id, keyword_ids, mode, tightness, False, tier, True, model, 0, estimate["credits"])
    groups = _expected_groups(len(keyword_ids), tightness)
    return Plan(sector_id, keyword_ids, mode, tightness, join_existing, tier, model.provider.kind != "demo",
                model, _local_credits(len(keyword_ids)), _naming_credits(model, groups))


def estimate(**kwargs) -> dict:
    """The estimate the confirm page shows, with its parts."""
    p = plan(**kwargs)
    summary = credits.estimate_summary(account_id=tenancy.current_account_id(), credits=p.total)
    return {**summary, "keywords": len(p.keyword_ids), "local": p.local_credits, "naming": p.naming_credits,
            "model": p.model.name, "demo": p.model.provider.kind == "demo", "mode": p.mode}


def start(*, created_by_id: int | None, **kwargs) -> Job:
    """Reserve the estimate and enqueue the run."""
    p = plan(**kwargs)
    if p.mode == "llm":
        return framework.start_function(function="keyword_grouping", tier=p.tier, model_pk=p.model.id,
                                        payload={"sector_id": p.sector_id, "keyword_ids": p.keyword_ids},
                                        created_by_id=created_by_id, site_id=get_sector(p.sector_id).site_id)
    from app.services.jobs import enqueue_job

    sector = get_sector(p.sector_id)
    return enqueue_job(kind=JOB_KIND, created_by_id=created_by_id, site_id=sector.site_id,
                       title=f"Cluster {len(p.keyword_ids):,} keywords in {sector.name}",
                       reserve_credits=p.total, operation="clustering",
                       payload={"sector_id": p.sector_id, "keyword_ids": p.keyword_ids,
                                "tightness": p.tightness, "join_existing": p.join_existing,
                                "model_pk": p.model.id})


# --- The semantic run -----------------------------------------------------------------------------------

def _fallback_name(members: list[dict]) -> str:
    top = max(members, key=lambda k: (k["volume"] or 0, -len(k["keyword"]), k["keyword"]))
    return top["keyword"][:200]


def _majority_intent(members: list[dict]) -> str:
    given = Counter(k["intent"] for k in members if k["intent"] in INTENTS)
    if given:
        return given.most_common(1)[0][0]
    return _guess_intent([k["keyword"] for k in members])


def _pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _unpack(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.float32)


def _existing_centroids(sector_id: int, semantic) -> tuple[list[int], np.ndarray | None]:
    """Centroids of the sector's clusters; ones made without embeddings (or by an older embedding model,
    whose vectors have another width) get theirs computed now."""
    clusters = list(db.session.scalars(select(Cluster).where(Cluster.sector_id == sector_id)
                                       .options(undefer(Cluster.centroid))))
    width = semantic.PHRASE_DIM * np.dtype(np.float32).itemsize

    def current(cluster: Cluster) -> bool:
        return bool(cluster.centroid) and len(cluster.centroid) == width

    missing = [c.id for c in clusters if not current(c)]
    words: dict[int, list[str]] = {}
    if missing:  # one query for every cluster that still needs a centroid
        for cluster_id, keyword in db.session.execute(select(Keyword.cluster_id, Keyword.keyword)
                                                      .where(Keyword.cluster_id.in_(missing))):
            words.setdefault(cluster_id, []).append(keyword)
    ids, vectors = [], []
    for cluster in clusters:
        if current(cluster):
            vector = _unpack(cluster.centroid)
        elif words.get(cluster.id):
            members = words[cluster.id][:200]
            vector = semantic.centroids(semantic.embed(members), [0] * len(members))[0]
            cluster.centroid = _pack(vector)
        else:
            continue
        ids.append(cluster.id)
        vectors.append(vector)
    if not ids:
        return [], None
    return ids, np.vstack(vectors).astype(np.float32)


def _name_groups(groups: list[dict], model: AIModel, span_progress) -> tuple[list[TextResult], int]:
    """Ask the naming function for names in chunks; a chunk that fails keeps its fallback names."""
    function = ClusterNaming()
    provider = provider_for(model.provider)
    usage: list[TextResult] = []
    failed = 0
    chunks = [groups[i:i + NAMING_GROUPS_PER_CALL] for i in range(0, len(groups), NAMING_GROUPS_PER_CALL)]
    for number, chunk in enumerate(chunks):
        payload = {"groups": [g["keywords"][:NAMING_KEYWORDS_PER_GROUP] for g in chunk]}
        span = framework.Span(span_progress, 60 + 35 * number / len(chunks), 60 + 35 * (number + 1) / len(chunks),
                               f"Naming clusters ({number + 1} of {len(chunks)}): ")
        calls_before = len(usage)
        try:
            context = function.prepare(payload)
            data = framework.ask(function, model, provider, context, usage, span)
        except DomainError:
            # Like any failed part of an AI run, a chunk that could not be named is not charged.
            del usage[calls_before:]
            failed += len(chunk)
            continue
        for answer in data["clusters"]:
            target = chunk[answer["group"] - 1]
            name, description = clean_text(answer["name"])[:200], clean_text(answer["description"])[:400]
            if name:
                target["name"] = name
            if description:
                target["description"] = description
            target["intent"] = answer["intent"]
    return usage, failed


def run_semantic(job: Job, progress: Progress) -> dict:
    from app.services.planner import semantic

    payload = job.payload
    progress("INIT", 3, "Loading the keywords…", force=True)
    sector = get_sector(payload["sector_id"])
    model = db.session.get(AIModel, payload["model_pk"])
    if model is None:
        raise DomainError("The chosen AI model was removed from the catalogue. Start the run again.")
    rows = []
    ids = payload["keyword_ids"]
    for start_at in range(0, len(ids), 10_000):
        rows += db.session.execute(select(Keyword.id, Keyword.keyword, Keyword.volume, Keyword.intent).where(
            Keyword.sector_id == sector.id, Keyword.status == "active",
            Keyword.id.in_(ids[start_at:start_at + 10_000]))).all()
    if not rows:
        raise DomainError("None of the chosen keywords is left in this sector (deleted or archived), so "
                          "nothing was clustered and your credits were returned.")
    members = [{"id": r.id, "keyword": r.keyword, "volume": r.volume, "intent": r.intent} for r in rows]
    progress("PREP", 10, f"Understanding {len(members):,} keywords…", force=True)
    vectors = semantic.embed([m["keyword"] for m in members])
    tightness = payload.get("tightness", DEFAULT_TIGHTNESS) / 100
    joined = 0
    assignments: list[dict] = []
    remaining = list(range(len(members)))
    if payload.get("join_existing"):
        progress("PREP", 30, "Comparing with the existing clusters…", force=True)
        cluster_ids, centroid_matrix = _existing_centroids(sector.id, semantic)
        if cluster_ids:
            nearest = semantic.assign_to_existing(vectors, centroid_matrix, tightness=tightness)
            remaining = []
            for index, target in enumerate(nearest):
                if target is None:
                    remaining.append(index)
                else:
                    assignments.append({"kid": members[index]["id"], "cid": cluster_ids[target]})
                    joined += 1
    progress("PREP", 40, f"Grouping {len(remaining):,} keywords…", force=True)
    groups: list[dict] = []
    if remaining:
        sub = vectors[remaining]
        labels = semantic.cluster(sub, tightness=tightness, texts=[members[i]["keyword"] for i in remaining],
                                  progress=lambda fraction, message: progress(
            "PREP", 40 + 18 * fraction, message, force=True))  # a few reports per thousand keywords
        by_label: dict[int, list[int]] = {}
        for position, label in enumerate(labels):
            by_label.setdefault(int(label), []).append(remaining[position])
        centroid_matrix = semantic.centroids(sub, labels)
        for label, indexes in sorted(by_label.items(), key=lambda item: -len(item[1])):
            group_members = sorted((members[i] for i in indexes), key=lambda k: -(k["volume"] or 0))
            groups.append({"indexes": indexes, "keywords": [m["keyword"] for m in group_members],
                           "name": _fallback_name(group_members), "intent": _majority_intent(group_members),
                           "description": f"{len(group_members)} keyword(s) around “{group_members[0]['keyword']}”.",
                           "centroid": centroid_matrix[label]})
    usage: list[TextResult] = []
    naming_failed = 0
    if groups and model.provider.kind != "demo":
        catalogue.check_usable(model)
        progress("AI_CALL", 60, f"Naming {len(groups):,} clusters with {model.name}…", force=True)
        usage, naming_failed = _name_groups(groups, model, progress)
    progress("SAVE", 96, "Saving the clusters…", force=True)
    source = "semantic"
    new_clusters = [Cluster(account_id=sector.account_id, site_id=sector.site_id, sector_id=sector.id,
                            name=g["name"], description=g["description"], intent=g["intent"], source=source,
                            centroid=_pack(g["centroid"]), job_id=job.id) for g in groups]
    db.session.add_all(new_clusters)
    db.session.flush()
    for group, cluster in zip(groups, new_clusters):
        assignments += [{"kid": members[i]["id"], "cid": cluster.id} for i in group["indexes"]]
    if assignments:
        statement = (update(Keyword.__table__).where(Keyword.__table__.c.id == bindparam("kid"))
                     .values(cluster_id=bindparam("cid")))
        for start_at in range(0, len(assignments), 5_000):
            db.session.execute(statement, assignments[start_at:start_at + 5_000],
                               execution_options={"synchronize_session": False})
    charged = _settle(job, model, local=_local_credits(len(members)), usage=usage)
    summary = f"Made {len(new_clusters):,} clusters from {len(members):,} keywords"
    if joined:
        summary += f"; {joined:,} joined existing clusters"
    if naming_failed:
        summary += f"; {naming_failed:,} kept a simple name because naming failed"
    elif model.provider.kind == "demo" and groups:
        summary += " (demo mode: each is named after its top keyword)"
    return {"summary": summary + ".", "clusters": len(new_clusters), "joined": joined, "keywords": len(members),
            "credits": charged, "naming_failed": naming_failed, "sector_id": sector.id}


def _settle(job: Job, model: AIModel, *, local: int, usage: list[TextResult]) -> int:
    reservation = db.session.scalars(select(CreditReservation).where(
        CreditReservation.job_id == job.id, CreditReservation.status == "open")).first()
    if reservation is None:
        return 0
    tokens_in, tokens_out = sum(u.tokens_in for u in usage), sum(u.tokens_out for u in usage)
    naming = catalogue.credits_for_tokens(model, tokens_in + tokens_out) if usage else 0
    settled = credits.settle(reservation_id=reservation.id, actual=local + naming,
                             model=model.model_id if usage else "local-embeddings",
                             provider=model.provider.slug if usage else "igny8",
                             tokens_in=tokens_in, tokens_out=tokens_out,
                             cost_usd=catalogue.cost_usd(model, tokens_in=tokens_in, tokens_out=tokens_out),
                             related=("job", job.id), commit=False)
    return settled.charged


@register
class ClusterJob(JobKind):
    name = JOB_KIND
    title = "Keyword clustering"
    module = "planner"
    timeout = 3600
    phase_labels = {"PREP": "Grouping keywords", "AI_CALL": "Naming clusters"}

    def run(self, job: Job, progress: Progress) -> dict:
        return run_semantic(job, progress)

