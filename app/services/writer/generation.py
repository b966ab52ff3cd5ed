"""Stage 4: tasks → articles, the `content_generation` AI function (one task per model call).

The answer is JSON checked against SCHEMA, then beyond it: the body is sanitized with the allow-list, has no
H1, is within ±25 % of the task's target length and carries most of the outline's headings. An answer that
fails a check is repaired once (the model is told what was wrong); a second failure fails only that task,
with the reason, and its calls are not charged. The parallel batch runner is in `runner.py`.
"""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import AuthorProfile, ContentStrategy, Site
from app.models.planner import Task
from app.services.ai import prompts
from app.services.ai.framework import AIFunction, register_function
from app.services.ai.output import OutputError, clean_text, sanitize_html
from app.services.ai.providers import DEMO_LABEL
from app.services.planner.ideas import parse_ids
from app.services.writer import sections, text

FUNCTION = "content_generation"
MAX_TASKS = 50
MIN_WORDS, MAX_WORDS = 300, 6000  # above sections.LONG_FROM an article is written section by section
LENGTH_TOLERANCE = 0.25

SCHEMA = {
    "type": "object",
    "required": ["title", "meta_title", "meta_description", "slug", "excerpt", "body_html"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "meta_title": {"type": "string", "minLength": 1, "maxLength": 60},
        "meta_description": {"type": "string", "minLength": 1, "maxLength": 160},
        "slug": {"type": "string", "maxLength": 200},
        "excerpt": {"type": "string", "maxLength": 1000},
        "body_html": {"type": "string", "minLength": 1},
    },
}


def length_range(target: int) -> tuple[int, int]:
    """The accepted word counts for a target length (±25 %)."""
    return round(target * (1 - LENGTH_TOLERANCE)), round(target * (1 + LENGTH_TOLERANCE))


def outline_lines(outline: list[dict]) -> str:
    """An outline as prompt lines: "H2 …" and indented "  H3 …"."""
    return "\n".join(("  " if int(h.get("level", 2)) == 3 else "") + f"H{int(h.get('level', 2))} {h.get('text', '')}"
                     for h in outline or [])


def chosen_task_ids(values) -> list[int]:
    """The distinct task ids of one run: at least one, at most MAX_TASKS."""
    ids = parse_ids(values, field="task_ids", label="task")
    if not ids:
        raise ValidationError("Choose at least one task to write.", field="task_ids")
    if len(ids) > MAX_TASKS:
        raise ValidationError(f"At most {MAX_TASKS} articles can be written in one run; you chose {len(ids)}. "
                              "Nothing was charged.", field="task_ids")
    return ids


def _tasks(ids: list[int]) -> list[Task]:
    tasks = list(db.session.scalars(select(Task).where(Task.id.in_(ids)).order_by(Task.id)))
    if len(tasks) != len(ids):
        raise NotFound("One or more of the chosen tasks do not exist or you do not have access to them.")
    return tasks


def check_tasks(tasks: list[Task]) -> None:
    """Refuse tasks that cannot be written as they are, naming them; nothing is reserved or charged."""
    if len({t.site_id for t in tasks}) > 1:
        raise ValidationError("Choose tasks of one site at a time.", field="task_ids")
    for task in tasks:
        if not " ".join((task.title or "").split()):
            raise ValidationError(f"Task {task.id} has an empty title; give it one in Planner → Tasks first.",
                                  field="task_ids")
        if not MIN_WORDS <= (task.target_words or 0) <= MAX_WORDS:
            raise ValidationError(f"“{task.title[:80]}” asks for {task.target_words:,} words; articles can be "
                                  f"written from {MIN_WORDS:,} to {MAX_WORDS:,} words. Change the idea's target "
                                  "length. Nothing was charged.", field="task_ids")


@register_function
class ContentGeneration(AIFunction):
    name = FUNCTION
    title = "Article writing"
    operation = "content_generation"
    module = "writer"
    schema = SCHEMA
    max_input_chars = 20_000
    temperature = 0.6
    batch_key = "tasks"  # one task per call: a bad answer fails only its own task
    items_per_call = 1

    def validate(self, payload: dict) -> None:
        check_tasks(_tasks(chosen_task_ids(payload.get("task_ids"))))

    def prepare(self, payload: dict) -> dict:
        ids = parse_ids(payload["task_ids"], field="task_ids", label="task")
        tasks = {t.id: t for t in db.session.scalars(select(Task).where(Task.id.in_(ids)))}
        items = []
        for task_id in ids:
            task = tasks.get(task_id)
            if task is None:  # deleted since the run was started: it fails alone
                items.append({"id": task_id, "missing": True, "title": f"Task {task_id}", "outline": [],
                              "target_words": MIN_WORDS})
                continue
            site = db.session.get(Site, task.site_id)
            profile = db.session.get(AuthorProfile, task.author_profile_id) if task.author_profile_id else None
            strategy = db.session.get(ContentStrategy, task.strategy_id) if task.strategy_id else None
            sector = next((s for s in site.sectors if s.id == task.sector_id), None)
            items.append({
                "id": task.id, "title": task.title, "outline": list(task.outline or []),
                "primary_keyword": task.primary_keyword, "keywords": list(task.keywords or []),
                "content_type": task.content_type, "structure": task.structure, "target_words": task.target_words,
                "site_id": task.site_id, "sector_id": task.sector_id, "cluster_id": task.cluster_id,
                "site_name": site.name, "sector": sector.name if sector else "",
                "language": (profile.language if profile else "") or "English",
                "author_profile": prompts.profile_text(profile), "strategy": prompts.strategy_text(strategy),
                "author_profile_id": task.author_profile_id, "strategy_id": task.strategy_id})
        # The template in effect is read once for the run, not once per article.
        return {"tasks": items, "template": prompts.get_template(self.name)[0]}

    def build_prompt(self, context: dict) -> list[dict]:
        task = context["tasks"][0]
        low, high = length_range(task["target_words"])
        system = prompts.render_body(prompts.get_function(self.name), context["template"], {
            "site_name": task.get("site_name", ""), "sector": task.get("sector", ""), "title": task["title"],
            "outline": outline_lines(task["outline"]), "primary_keyword": task.get("primary_keyword", ""),
            "keywords": ", ".join(task.get("keywords", [])), "content_type": task.get("content_type", "post"),
            "structure": task.get("structure", "guide"), "target_words": task["target_words"],
            "language": task.get("language", "English"), "author_profile": task.get("author_profile", ""),
            "strategy": task.get("strategy", "")})
        lines = [f"Title: {task['title']}", f"Outline:\n{outline_lines(task['outline']) or '(none: choose H2s)'}",
                 f"Primary keyword: {task.get('primary_keyword') or '(none)'}",
                 f"Keywords: {', '.join(task.get('keywords', [])) or '(none)'}",
                 f"Content type: {task.get('content_type', 'post')}; structure: {task.get('structure', 'guide')}",
                 "", f"Write {low}–{high} words of body text (target {task['target_words']}). Use every outline "
                 "heading as an H2 or H3 in that order; no H1. meta_title at most 60 characters, meta_description "
                 "at most 160, slug in lowercase words joined by hyphens, excerpt one or two sentences."]
        return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]

    def expected_output_tokens(self, context: dict) -> int:
        # About 1.4 tokens per word of English prose, plus markup and the meta fields.
        return int(sum(t["target_words"] for t in context["tasks"]) * 1.6) + 200

    def demo_answer(self, context: dict) -> dict:
        return demo_article(context["tasks"][0])

    def check(self, data: dict, context: dict) -> None:
        task = context["tasks"][0]
        if not clean_text(data["title"]):
            raise OutputError("$.title is empty without markup.")
        if text.has_h1(data["body_html"]):
            raise OutputError("$.body_html has an H1 heading; the title is the H1, so use H2 and H3 only.")
        body = sanitize_html(data["body_html"])
        words, (low, high) = text.word_count(body), length_range(task["target_words"])
        if not low <= words <= high:
            raise OutputError(f"$.body_html has {words:,} words; it must have {low:,}–{high:,} "
                              f"(the target is {task['target_words']:,}).")
        outline = task["outline"]
        missing = text.missing_headings(outline, body)
        if outline and len(missing) * 2 > len(outline):
            raise OutputError(f"$.body_html misses {len(missing)} of the {len(outline)} outline headings "
                              f"(e.g. “{missing[0][:80]}”); use each as an H2 or H3.")


def demo_article(task: dict) -> dict:
    """A clearly labelled placeholder article of about the target length with the task's headings."""
    intro = f"{DEMO_LABEL}. This is a placeholder article for “{task['title']}”."
    outline = task["outline"] or [{"level": 2, "text": "Overview"}]
    return {**sections.demo_meta(task), "body_html": sections.demo_body(task, outline, task["target_words"], intro)}
