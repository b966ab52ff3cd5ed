"""Stage 2 of the pipeline: article ideas for clusters (the `idea_generation` AI function) and the ideas list.

The function runs one cluster per model call (the framework's item-by-item batches), so a cluster whose
answer is unusable fails alone — with a readable error and without being charged — while the others are
saved. Answers are checked strictly: an idea's primary keyword must be one of its cluster's keywords
(otherwise the answer fails and the model is asked once more), secondary keywords that are not the
cluster's are dropped, and every enum must be valid. A cluster gets at least one and at most
`per_cluster` ideas: extra ideas are dropped, fewer are accepted (the run's result says how many each
got). A cluster's ideas are saved together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import selectinload

from app.errors import NotFound, ValidationError
from app import params
from app.extensions import db
from app.models import Job, Sector
from app.models.planner import CONTENT_TYPES, IDEA_STATUSES, STRUCTURES, Cluster, Idea, Keyword
from app.services import thinker
from app.services.paging import Page, paginate
from app.services.ai import framework, prompts
from app.services.ai.framework import AIFunction, register_function
from app.services.ai.output import OutputError, clean_text
from app.services.ai.providers import DEMO_LABEL

FUNCTION = "idea_generation"
MAX_CLUSTERS = 50
MAX_PER_CLUSTER = 10
DEFAULT_PER_CLUSTER = 3
PROMPT_KEYWORDS = 40  # the cluster's top keywords by volume that the prompt carries
MIN_WORDS, MAX_WORDS = 300, 10_000
DEFAULT_WORDS = 1500
MAX_SECONDARY = 15
MAX_OUTLINE = 40
PER_PAGE = 50
TIERS = ("testing", "live")

CONTENT_TYPE_LABELS = {"post": "Blog post", "page": "Page", "product": "Product", "service": "Service page",
                       "taxonomy": "Taxonomy page"}
STRUCTURE_LABELS = {"guide": "Guide", "how-to": "How-to", "listicle": "Listicle", "comparison": "Comparison",
                    "review": "Review", "question": "Question", "news": "News"}

IDEA_SCHEMA = {
    "type": "object",
    "required": ["title", "summary", "outline", "structure", "primary_keyword", "secondary_keywords",
                 "target_words"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "summary": {"type": "string", "maxLength": 1000},
        "outline": {"type": "array", "minItems": 1, "maxItems": MAX_OUTLINE, "items": {
            "type": "object", "required": ["level", "text"],
            "properties": {"level": {"type": "integer", "enum": [2, 3]},
                           "text": {"type": "string", "minLength": 1, "maxLength": 200}}}},
        # Optional: the prompt's answer contract does not show it; a missing type means a blog post.
        "content_type": {"type": "string", "enum": list(CONTENT_TYPES)},
        "structure": {"type": "string", "enum": list(STRUCTURES)},
        "primary_keyword": {"type": "string", "minLength": 1, "maxLength": 200},
        "secondary_keywords": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 200}},
        "target_words": {"type": "integer"},
    },
}
SCHEMA = {"type": "object", "required": ["ideas"],
          "properties": {"ideas": {"type": "array", "minItems": 1, "items": IDEA_SCHEMA}}}


def normalize(keyword: str) -> str:
    """How keywords are compared: case-insensitive, whitespace collapsed."""
    return " ".join((keyword or "").lower().split())


def parse_ids(values, *, field: str, label: str) -> list[int]:
    """Distinct integer ids from a list of values, in order; refuses anything that is not an id."""
    if not isinstance(values, list):
        raise ValidationError(f"Choose at least one {label}.", field=field)
    ids = []
    for value in values:
        number = params.parse_id(value)
        if number is None:
            raise ValidationError(f"“{str(value)[:20]}” is not a valid {label} id.", field=field)
        if number not in ids:
            ids.append(number)
    return ids


def _keyword_counts(cluster_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(select(Keyword.cluster_id, func.count()).where(
        Keyword.cluster_id.in_(cluster_ids), Keyword.status == "active").group_by(Keyword.cluster_id)).all())


@register_function
class IdeaGeneration(AIFunction):
    name = FUNCTION
    title = "Idea generation"
    operation = "idea_generation"
    module = "planner"
    schema = SCHEMA
    max_input_chars = 5_000
    temperature = 0.5
    batch_key = "clusters"  # one cluster per call: a bad answer fails only its own cluster
    items_per_call = 1

    def validate(self, payload: dict) -> None:
        cluster_ids = parse_ids(payload.get("cluster_ids"), field="cluster_ids", label="cluster")
        if not cluster_ids:
            raise ValidationError("Choose at least one cluster to generate ideas for.", field="cluster_ids")
        if len(cluster_ids) > MAX_CLUSTERS:
            raise ValidationError(f"At most {MAX_CLUSTERS} clusters can get ideas in one run; you chose "
                                  f"{len(cluster_ids)}. Nothing was charged.", field="cluster_ids")
        per_cluster = payload.get("per_cluster")
        if not isinstance(per_cluster, int) or isinstance(per_cluster, bool) or not 1 <= per_cluster <= MAX_PER_CLUSTER:
            raise ValidationError(f"Ideas per cluster must be a whole number from 1 to {MAX_PER_CLUSTER}.",
                                  field="per_cluster")
        sector_id = payload.get("sector_id")
        sector = db.session.scalars(select(Sector).where(Sector.id == sector_id)).first() \
            if isinstance(sector_id, int) else None
        if sector is None:
            raise NotFound("That sector does not exist or you do not have access to it.")
        clusters = list(db.session.scalars(select(Cluster).where(
            Cluster.id.in_(cluster_ids), Cluster.sector_id == sector.id)))
        if len(clusters) != len(cluster_ids):
            raise NotFound("One or more of the chosen clusters do not exist in this sector (they may have been "
                           "deleted). Reload the clusters page and choose again.")
        counts = _keyword_counts(cluster_ids)
        empty = [c.name for c in clusters if not counts.get(c.id)]
        if empty:
            raise ValidationError(f"These clusters have no keywords, so no ideas can be drawn from them: "
                                  f"{', '.join(empty[:5])}{'…' if len(empty) > 5 else ''}. Add keywords or "
                                  "leave them out. Nothing was charged.", field="cluster_ids")

    def prepare(self, payload: dict) -> dict:
        cluster_ids = parse_ids(payload["cluster_ids"], field="cluster_ids", label="cluster")
        sector = db.session.scalars(select(Sector).where(Sector.id == payload["sector_id"])).one()
        profile, strategy = thinker.site_defaults(sector.site)
        by_id = {c.id: c for c in db.session.scalars(select(Cluster).where(Cluster.id.in_(cluster_ids)))}
        clusters = []
        for cluster_id in cluster_ids:
            cluster = by_id[cluster_id]
            keywords = db.session.execute(
                select(Keyword.keyword, Keyword.volume).where(Keyword.cluster_id == cluster.id,
                                                              Keyword.status == "active")
                .order_by(Keyword.volume.desc().nulls_last(), Keyword.keyword).limit(PROMPT_KEYWORDS)).all()
            clusters.append({"id": cluster.id, "name": cluster.name, "description": cluster.description or "",
                             "intent": cluster.intent or "", "keywords": [k for k, _v in keywords],
                             "volumes": [v for _k, v in keywords]})
        return {"sector_id": sector.id, "per_cluster": payload["per_cluster"], "clusters": clusters,
                "site_name": sector.site.name, "sector": sector.name,
                "language": (profile.language if profile else "") or "English",
                "author_profile": prompts.profile_text(profile), "strategy": prompts.strategy_text(strategy),
                "target_words": strategy.target_words if strategy and strategy.target_words else DEFAULT_WORDS}

    def build_prompt(self, context: dict) -> list[dict]:
        cluster, count = context["clusters"][0], context["per_cluster"]
        system = prompts.render(self.name, {
            "site_name": context["site_name"], "sector": context["sector"], "cluster_name": cluster["name"],
            "cluster_description": cluster["description"] or "no description",
            "intent": cluster["intent"] or "not labelled", "keywords": ", ".join(cluster["keywords"]),
            "ideas_per_cluster": count, "language": context["language"],
            "author_profile": context["author_profile"], "strategy": context["strategy"]})
        keywords = "\n".join(f"- {k} ({v:,} searches a month)" if v is not None else f"- {k}"
                             for k, v in zip(cluster["keywords"], cluster["volumes"]))
        lines = [f"Cluster: {cluster['name']}"]
        if cluster["intent"]:
            lines.append(f"Search intent: {cluster['intent']}")
        if cluster["description"]:
            lines.append(f"Description: {cluster['description'][:400]}")
        lines += [f"Keywords of the cluster:\n{keywords}", "",
                  f"Give exactly {count} idea(s). For each idea: content_type is one of {', '.join(CONTENT_TYPES)}; "
                  f"structure is one of {', '.join(STRUCTURES)}; primary_keyword and up to {MAX_SECONDARY} "
                  "secondary_keywords are copied exactly from the keywords above; target_words is between "
                  f"{MIN_WORDS} and {MAX_WORDS} (about {context['target_words']} unless the topic needs otherwise); "
                  "the outline has H2 (level 2) and H3 (level 3) headings."]
        return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]

    def expected_output_tokens(self, context: dict) -> int:
        return 320 * context["per_cluster"] * len(context["clusters"]) + 30

    def demo_answer(self, context: dict) -> dict:
        cluster = context["clusters"][0]
        return {"ideas": [_demo_idea(cluster, n, context) for n in range(context["per_cluster"])]}

    def check(self, data: dict, context: dict) -> None:
        keywords = {normalize(k) for k in context["clusters"][0]["keywords"]}
        for n, idea in enumerate(data["ideas"][:context["per_cluster"]]):
            where = f"$.ideas[{n}]"
            if not clean_text(idea["title"]):
                raise OutputError(f"{where}.title is empty without markup.")
            if any(not clean_text(h["text"]) for h in idea["outline"]):
                raise OutputError(f"{where}.outline has a heading that is empty without markup.")
            if normalize(idea["primary_keyword"]) not in keywords:
                raise OutputError(f"{where}.primary_keyword “{idea['primary_keyword'][:80]}” is not one of the "
                                  "cluster's keywords; copy one exactly from the list.")
            if not MIN_WORDS <= idea["target_words"] <= MAX_WORDS:
                raise OutputError(f"{where}.target_words must be between {MIN_WORDS} and {MAX_WORDS}.")

    def save_items(self, data: dict, context: dict, job: Job) -> list[dict]:
        item = context["clusters"][0]
        cluster = db.session.scalars(select(Cluster).where(Cluster.id == item["id"])).first()
        if cluster is None:
            raise OutputError("the cluster was deleted while its ideas were being written.")
        spelled = {normalize(k): k for k in item["keywords"]}
        ideas = [_idea_row(answer, cluster, spelled, job) for answer in data["ideas"][:context["per_cluster"]]]
        db.session.add_all(ideas)
        db.session.flush()
        return [{"cluster_id": cluster.id, "name": cluster.name, "ideas": len(ideas)}]

    def summarize(self, items: list[dict], context: dict) -> dict:
        rows, created = [], 0
        for outcome in items:
            cluster = context["clusters"][outcome["index"]]
            ideas = outcome["result"]["ideas"] if outcome["ok"] else 0
            created += ideas
            rows.append({"id": cluster["id"], "name": cluster["name"], "ideas": ideas, "error": outcome["error"]})
        done = sum(1 for r in rows if r["ideas"])
        summary = f"Created {created} idea(s) for {done} cluster(s)."
        if done < len(rows):
            summary += f" {len(rows) - done} cluster(s) got none and were not charged."
        return {"summary": summary, "ideas": created, "clusters": rows, "requested": context["per_cluster"],
                "sector_id": context["sector_id"]}


def _idea_row(answer: dict, cluster: Cluster, spelled: dict[str, str], job: Job) -> Idea:
    primary = spelled[normalize(answer["primary_keyword"])]
    secondary = []
    for keyword in answer["secondary_keywords"]:
        known = spelled.get(normalize(keyword))
        if known and known != primary and known not in secondary:
            secondary.append(known)
    outline = [{"level": h["level"], "text": clean_text(h["text"])[:200]} for h in answer["outline"]]
    return Idea(site_id=cluster.site_id, sector_id=cluster.sector_id, cluster_id=cluster.id,
                title=clean_text(answer["title"])[:300], summary=clean_text(answer["summary"])[:1000],
                outline=outline, content_type=answer.get("content_type") or "post", structure=answer["structure"],
                primary_keyword=primary, secondary_keywords=secondary[:MAX_SECONDARY],
                target_words=answer["target_words"], status="new", job_id=job.id)


_DEMO_SHAPES = [("guide", "The Complete Guide to {kw}"), ("how-to", "How to Choose {kw}"),
                ("listicle", "10 Things to Know About {kw}"), ("comparison", "{kw}: Options Compared"),
                ("review", "{kw} Reviewed"), ("question", "What Is {kw}?")]


def _demo_idea(cluster: dict, number: int, context: dict) -> dict:
    keywords = cluster["keywords"]
    primary = keywords[number % len(keywords)]
    structure, pattern = _DEMO_SHAPES[number % len(_DEMO_SHAPES)]
    return {"title": f"Demo: {pattern.format(kw=primary.title())}",
            "summary": f"{DEMO_LABEL}. A placeholder {structure} idea for the cluster “{cluster['name']}”.",
            "outline": [{"level": 2, "text": f"What {primary} means"}, {"level": 3, "text": "Key terms"},
                        {"level": 2, "text": f"Getting started with {primary}"},
                        {"level": 2, "text": "Frequently asked questions"}],
            "content_type": "post", "structure": structure, "primary_keyword": primary,
            "secondary_keywords": [k for k in keywords if k != primary][:3],
            "target_words": min(MAX_WORDS, max(MIN_WORDS, context["target_words"]))}


# --- Starting a run ---------------------------------------------------------------------------

def _payload(sector_id: int, cluster_ids: list[int], per_cluster: int) -> dict:
    return {"cluster_ids": parse_ids(cluster_ids, field="cluster_ids", label="cluster"),
            "per_cluster": per_cluster, "sector_id": sector_id}


def _tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValidationError("Choose the Testing or the Live model.", field="tier")
    return tier


def estimate_ideas(*, sector_id: int, cluster_ids: list[int], per_cluster: int, tier: str = "testing") -> dict:
    """What generating ideas for the clusters would cost (refuses what could not run)."""
    return framework.estimate(function=FUNCTION, payload=_payload(sector_id, cluster_ids, per_cluster),
                              tier=_tier(tier))


def start_ideas(*, sector_id: int, cluster_ids: list[int], per_cluster: int, tier: str = "testing",
                created_by_id: int | None) -> Job:
    """Reserve the estimate and enqueue idea generation for the clusters."""
    sector = db.session.scalars(select(Sector).where(Sector.id == sector_id)).first()
    if sector is None:
        raise NotFound("That sector does not exist or you do not have access to it.")
    return framework.start_function(function=FUNCTION, payload=_payload(sector_id, cluster_ids, per_cluster),
                                    tier=_tier(tier), created_by_id=created_by_id, site_id=sector.site_id)


def get_run(job_id: int) -> Job:
    """An idea-generation job of the bound account, or NotFound."""
    job = db.session.scalars(select(Job).where(Job.id == job_id)).first()
    if job is None or job.kind != framework.job_kind_name(FUNCTION):
        raise NotFound("That idea-generation run does not exist.")
    return job


def describe_clusters(*, sector_id: int, cluster_ids: list[int]) -> list[dict]:
    """The chosen clusters with their keyword and idea counts, for the confirmation page."""
    ids = parse_ids(cluster_ids, field="cluster_ids", label="cluster")
    clusters = db.session.scalars(select(Cluster).where(Cluster.id.in_(ids), Cluster.sector_id == sector_id)
                                  .order_by(Cluster.name)).all()
    if len(clusters) != len(ids):
        raise NotFound("One or more of the chosen clusters do not exist in this sector. Reload the clusters "
                       "page and choose again.")
    keywords = _keyword_counts(ids)
    ideas = dict(db.session.execute(select(Idea.cluster_id, func.count()).where(
        Idea.cluster_id.in_(ids)).group_by(Idea.cluster_id)).all())
    return [{"id": c.id, "name": c.name, "keywords": keywords.get(c.id, 0), "ideas": ideas.get(c.id, 0)}
            for c in clusters]


# --- The ideas list and editing ---------------------------------------------------------------

def like(text: str) -> str:
    """A LIKE pattern matching the text anywhere, with wildcards in it taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class IdeaFilters:
    status: str = ""
    content_type: str = ""
    structure: str = ""
    cluster_id: int | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args) -> "IdeaFilters":
        """Filters from a query string; unknown values are ignored rather than refused."""
        cluster = args.get("cluster", "")
        return cls(status=args.get("status", "") if args.get("status") in IDEA_STATUSES else "",
                   content_type=args.get("type", "") if args.get("type") in CONTENT_TYPES else "",
                   structure=args.get("structure", "") if args.get("structure") in STRUCTURES else "",
                   cluster_id=params.parse_id(cluster),
                   q=" ".join(args.get("q", "").split())[:200])

    def query(self) -> dict:
        """The filters as query-string arguments (for pager links)."""
        values = {"status": self.status, "type": self.content_type, "structure": self.structure,
                  "cluster": self.cluster_id or "", "q": self.q}
        return {k: v for k, v in values.items() if v}


def list_ideas(*, sector: Sector, filters: IdeaFilters, page: int = 1) -> Page:
    """The sector's ideas matching the filters, newest first."""
    stmt = select(Idea).where(Idea.sector_id == sector.id).options(selectinload(Idea.cluster))
    if filters.status:
        stmt = stmt.where(Idea.status == filters.status)
    if filters.content_type:
        stmt = stmt.where(Idea.content_type == filters.content_type)
    if filters.structure:
        stmt = stmt.where(Idea.structure == filters.structure)
    if filters.cluster_id:
        stmt = stmt.where(Idea.cluster_id == filters.cluster_id)
    if filters.q:
        pattern = like(filters.q)
        stmt = stmt.where(or_(Idea.title.ilike(pattern), Idea.primary_keyword.ilike(pattern)))
    return paginate(stmt.order_by(Idea.id.desc()), page)


def sector_clusters(*, sector: Sector) -> list:
    """The sector's clusters as (id, name) rows, for filter choices (a sector may have thousands)."""
    return list(db.session.execute(select(Cluster.id, Cluster.name).where(Cluster.sector_id == sector.id)
                                   .order_by(Cluster.name)))


def get_idea(idea_id: int) -> Idea:
    """An idea of the bound account, or NotFound."""
    idea = db.session.scalars(select(Idea).where(Idea.id == idea_id)).first()
    if idea is None:
        raise NotFound("That idea does not exist or you do not have access to it.")
    return idea


def outline_text(outline: list) -> str:
    """An outline as editable lines: "## H2" and "### H3"."""
    return "\n".join(f"{'#' * int(h.get('level', 2))} {h.get('text', '')}" for h in outline or [])


def parse_outline(text: str) -> list[dict]:
    """Editable lines back into an outline; every line must start with ## or ###."""
    outline = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        marks = len(line) - len(line.lstrip("#"))
        heading = " ".join(line[marks:].split())
        if marks not in (2, 3) or not heading:
            raise ValidationError(f"Outline line {number} must start with “## ” (a section) or “### ” "
                                  f"(a subsection) followed by the heading.", field="outline")
        if len(heading) > 200:
            raise ValidationError(f"Outline line {number} is longer than 200 characters.", field="outline")
        outline.append({"level": marks, "text": heading})
    if len(outline) > MAX_OUTLINE:
        raise ValidationError(f"An outline can have at most {MAX_OUTLINE} headings.", field="outline")
    return outline


def parse_keywords(text: str) -> list[str]:
    """Keywords separated by commas or new lines; blanks and duplicates dropped."""
    seen, keywords = set(), []
    for part in (text or "").replace("\n", ",").split(","):
        keyword = " ".join(part.split())
        if keyword and normalize(keyword) not in seen:
            seen.add(normalize(keyword))
            keywords.append(keyword)
    return keywords


def update_idea(*, idea_id: int, fields: dict) -> Idea:
    """Change an idea after checking every field; nothing is saved if one is wrong."""
    idea = get_idea(idea_id)
    title = " ".join(str(fields.get("title") or "").split())
    if not title:
        raise ValidationError("Give the idea a title.", field="title")
    if len(title) > 300:
        raise ValidationError("The title can have at most 300 characters.", field="title")
    if fields.get("content_type") not in CONTENT_TYPES:
        raise ValidationError("Choose a content type from the list.", field="content_type")
    if fields.get("structure") not in STRUCTURES:
        raise ValidationError("Choose a structure from the list.", field="structure")
    primary = " ".join(str(fields.get("primary_keyword") or "").split())
    if not primary or len(primary) > 200:
        raise ValidationError("Give a primary keyword of at most 200 characters.", field="primary_keyword")
    secondary = [k for k in parse_keywords(fields.get("secondary_keywords") or "")
                 if normalize(k) != normalize(primary)]
    if len(secondary) > MAX_SECONDARY or any(len(k) > 200 for k in secondary):
        raise ValidationError(f"Give at most {MAX_SECONDARY} secondary keywords of at most 200 characters each.",
                              field="secondary_keywords")
    try:
        target = int(str(fields.get("target_words") or "").strip())
    except ValueError:
        target = 0
    if not MIN_WORDS <= target <= MAX_WORDS:
        raise ValidationError(f"The target length must be a whole number of words from {MIN_WORDS:,} to "
                              f"{MAX_WORDS:,}.", field="target_words")
    summary = str(fields.get("summary") or "").strip()
    if len(summary) > 1000:
        raise ValidationError("The summary can have at most 1,000 characters.", field="summary")
    outline = parse_outline(fields.get("outline") or "")
    idea.title, idea.summary, idea.outline = title, summary, outline
    idea.content_type, idea.structure = fields["content_type"], fields["structure"]
    idea.primary_keyword, idea.secondary_keywords, idea.target_words = primary, secondary, target
    db.session.commit()
    return idea


def delete_ideas(*, ids: list[int]) -> int:
    """Delete the chosen ideas (tasks made from them keep their own copy); returns how many."""
    ids = parse_ids(ids, field="idea_ids", label="idea")
    if not ids:
        raise ValidationError("Choose at least one idea.", field="idea_ids")
    found = list(db.session.scalars(select(Idea.id).where(Idea.id.in_(ids))))
    if len(found) != len(ids):
        raise NotFound("One or more of the chosen ideas do not exist or you do not have access to them.")
    deleted = db.session.execute(delete(Idea).where(Idea.id.in_(found)), execution_options={
        "synchronize_session": False}).rowcount
    db.session.commit()
    return deleted
