"""Stage 5: articles → image prompts, the `image_prompt_extraction` AI function (one article per call).

For each article: one featured image and N in-article images (the site's AI setting "images in each
article", at most MAX_IN_ARTICLE), each with prompt, alt text, caption and placement (the H2 it follows).
The answer is JSON checked against SCHEMA, repaired once; a second failure fails only that article.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.errors import Conflict, ValidationError
from app.extensions import db
from app.models import Content, ContentImage, Job
from app.services.ai import prompts
from app.services.ai import settings as ai_settings
from app.services.ai.framework import AIFunction, register_function
from app.services.ai.output import OutputError, clean_text
from app.services.ai.providers import DEMO_LABEL
from app.services.planner.ideas import parse_ids
from app.services.writer import text
from app.services.writer.status import settings_for

FUNCTION = "image_prompt_extraction"
MAX_ARTICLES = 50
MAX_IN_ARTICLE = 6
PROMPT_MAX = 2000
ARTICLE_CHARS = 12_000  # the article text sent to the model is shortened past this

_IMAGE = {"type": "object", "required": ["prompt", "alt"], "properties": {
    "prompt": {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX},
    "alt": {"type": "string", "minLength": 1, "maxLength": 300},
    "caption": {"type": "string", "maxLength": 500},
    "after_heading": {"type": "string", "maxLength": 300}}}
SCHEMA = {"type": "object", "required": ["featured", "in_article"], "properties": {
    "featured": _IMAGE, "in_article": {"type": "array", "items": _IMAGE}}}


def style_text(site_id: int) -> str:
    """The site's image style: the AI setting's choice plus the site's free text."""
    choice = ai_settings.resolve(site_id).image_style
    label = ai_settings.IMAGE_STYLES.get(choice, choice)
    note = (settings_for(site_id).image_style_note or "").strip()
    return f"{label}; {note}" if note else label


def image_count(site_id: int) -> int:
    """How many in-article images the site wants (0–MAX_IN_ARTICLE)."""
    return max(0, min(MAX_IN_ARTICLE, ai_settings.resolve(site_id).image_count))


def h2_texts(body_html: str) -> list[str]:
    return [h["text"] for h in text.headings(body_html) if h["level"] == 2]


def articles_with_prompts(ids: list[int]) -> set[int]:
    """The articles among `ids` that already have image records."""
    return set(db.session.scalars(select(ContentImage.content_id).where(ContentImage.content_id.in_(ids))
                                  .group_by(ContentImage.content_id)))


@register_function
class ImagePromptExtraction(AIFunction):
    name = FUNCTION
    title = "Image prompts"
    operation = "image_prompt_extraction"
    module = "writer"
    schema = SCHEMA
    max_input_chars = 5_000
    temperature = 0.5
    batch_key = "articles"  # one article per call: a bad answer fails only its own article
    items_per_call = 1

    def validate(self, payload: dict) -> None:
        ids = parse_ids(payload.get("content_ids"), field="content_ids", label="article")
        if not ids:
            raise ValidationError("Choose at least one article.", field="content_ids")
        if len(ids) > MAX_ARTICLES:
            raise ValidationError(f"At most {MAX_ARTICLES} articles in one run; you chose {len(ids)}. "
                                  "Nothing was charged.", field="content_ids")

    def prepare(self, payload: dict) -> dict:
        ids = parse_ids(payload["content_ids"], field="content_ids", label="article")
        rows = {c.id: c for c in db.session.scalars(select(Content).where(Content.id.in_(ids)))}
        items = []
        for content_id in ids:
            content = rows.get(content_id)
            if content is None:
                items.append({"id": content_id, "missing": True, "title": f"Article {content_id}", "h2": [],
                              "count": 0, "style": "", "article": ""})
                continue
            items.append({"id": content.id, "title": content.title, "h2": h2_texts(content.body_html),
                          "count": image_count(content.site_id), "style": style_text(content.site_id),
                          "article": content.body_html[:ARTICLE_CHARS], "language": "English"})
        return {"articles": items}

    def build_prompt(self, context: dict) -> list[dict]:
        item = context["articles"][0]
        system = prompts.render(self.name, {"title": item["title"], "article": item["article"],
                                            "image_count": item["count"], "image_style": item["style"],
                                            "language": item.get("language", "English")})
        headings = "\n".join(f"- {h}" for h in item["h2"]) or "(none)"
        user = (f"Title: {item['title']}\nH2 headings (use one of these exactly as after_heading):\n{headings}\n\n"
                f"Give one featured image and exactly {item['count']} in-article image(s). Style: {item['style']}.")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def expected_output_tokens(self, context: dict) -> int:
        return 150 + 120 * sum(a["count"] + 1 for a in context["articles"])

    def demo_answer(self, context: dict) -> dict:
        return demo_prompts(context["articles"][0])

    def check(self, data: dict, context: dict) -> None:
        item = context["articles"][0]
        if item.get("missing"):
            raise OutputError("the article was deleted.")
        got = len(data["in_article"])
        if got < item["count"]:
            raise OutputError(f"$.in_article has {got} image(s); give exactly {item['count']}.")

    def save_items(self, data: dict, context: dict, job: Job) -> list[dict]:
        item = context["articles"][0]
        content = db.session.scalars(select(Content).where(Content.id == item["id"]).with_for_update()).first()
        if content is None:
            raise OutputError("the article was deleted while its image prompts were being written.")
        if db.session.scalar(select(func.count()).select_from(ContentImage)
                             .where(ContentImage.content_id == content.id)):
            raise OutputError("the article got image prompts from another run meanwhile.")
        db.session.add(_record(content, "featured", 0, data["featured"], "", job))
        headings = h2_texts(content.body_html)
        for position, spec in enumerate(data["in_article"][:item["count"]], start=1):
            db.session.add(_record(content, "in_article", position, spec, _placement(spec, headings, position), job))
        db.session.flush()
        return [{"content_id": content.id, "title": content.title, "images": 1 + min(item["count"],
                                                                                   len(data["in_article"]))}]


def _placement(spec: dict, headings: list[str], position: int) -> str:
    """The H2 the image follows: the one the model named when it exists, else spread over the H2s."""
    wanted = clean_text(spec.get("after_heading") or "").casefold()
    for heading in headings:
        if heading.casefold() == wanted:
            return heading
    if not headings:
        return ""
    return headings[min(len(headings) - 1, (position - 1) * max(1, len(headings) // MAX_IN_ARTICLE))]


def _record(content: Content, kind: str, position: int, spec: dict, placement: str, job: Job) -> ContentImage:
    return ContentImage(site_id=content.site_id, content_id=content.id, kind=kind, position=position,
                        placement=placement[:300], prompt=clean_text(spec["prompt"])[:PROMPT_MAX],
                        alt=clean_text(spec["alt"])[:300], caption=clean_text(spec.get("caption") or "")[:500],
                        status="pending", prompt_job_id=job.id)


def demo_prompts(item: dict) -> dict:
    """Clearly labelled placeholder prompts, one per H2 in order."""
    headings = item["h2"] or [""]
    return {"featured": {"prompt": f"{DEMO_LABEL}: featured image for “{item['title']}”",
                         "alt": f"Demo image for {item['title']}"[:300], "caption": f"{DEMO_LABEL}"},
            "in_article": [{"prompt": f"{DEMO_LABEL}: image {n} for “{headings[(n - 1) % len(headings)]}”",
                            "alt": f"Demo image {n} for {item['title']}"[:300], "caption": DEMO_LABEL,
                            "after_heading": headings[(n - 1) % len(headings)]}
                           for n in range(1, item["count"] + 1)]}


def estimate_prompts(*, content_ids: list, tier: str = "testing") -> dict:
    """What writing image prompts for the chosen articles would cost; articles that have them are skipped."""
    from app.services.ai import framework

    ids = parse_ids(content_ids, field="content_ids", label="article")
    todo, skipped = _split(ids)
    return {**framework.estimate(function=FUNCTION, payload={"content_ids": todo}, tier=tier), "skipped": skipped,
            "count": len(todo)}


def start_prompts(*, content_ids: list, tier: str = "testing", created_by_id: int | None) -> Job:
    """Reserve the estimate and enqueue image prompts for the chosen articles (those without any)."""
    from app.services.ai import framework

    ids = parse_ids(content_ids, field="content_ids", label="article")
    todo, _ = _split(ids)
    site_id = db.session.scalar(select(Content.site_id).where(Content.id == todo[0]))
    return framework.start_function(function=FUNCTION, payload={"content_ids": todo}, tier=tier,
                                    created_by_id=created_by_id, site_id=site_id)


def _split(ids: list[int]) -> tuple[list[int], list[str]]:
    from app.errors import NotFound

    found = {c.id: c.title for c in db.session.scalars(select(Content).where(Content.id.in_(ids)))}
    if len(found) != len(set(ids)):
        raise NotFound("One or more of the chosen articles do not exist or you do not have access to them.")
    have = articles_with_prompts(ids)
    todo = [i for i in ids if i not in have]
    skipped = [f"“{found[i][:60]}” already has image prompts" for i in ids if i in have]
    if not todo:
        raise Conflict("All the chosen articles already have image prompts; regenerate single images from the "
                       "article's page instead. Nothing was charged.")
    return todo, skipped
