"""The calls that write one article: one call, or — for long targets — one call per part so the length holds.

An article above LONG_FROM words whose outline has at least two H2 sections is written as an introduction
(with the title and meta fields) and then one call per H2 section (with its H3s), each asked for its share
of the words and checked on its own (length ±25 %, its headings, no H1), with one repair call each.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

from app.services.ai.output import OutputError, sanitize_html
from app.services.ai.providers import DEMO_LABEL
from app.services.writer import text

LONG_FROM = 2000
INTRO_SHARE = 0.08
SECTION_SCHEMA = {"type": "object", "required": ["body_html"],
                  "properties": {"body_html": {"type": "string", "minLength": 1}}}


@dataclass
class Step:
    """One model call of an article: its messages, answer schema, checks and offline demo answer."""

    messages: list[dict]
    schema: dict
    check: Callable[[dict], None]
    demo: Callable[[], dict]


def plan(target_words: int, outline: list[dict]) -> list[dict] | None:
    """The parts of a long article (intro first, then one per H2 with its H3s), or None for one call."""
    if target_words <= LONG_FROM:
        return None
    groups: list[list[dict]] = []
    for heading in outline or []:
        if int(heading.get("level", 2)) == 2 or not groups:
            groups.append([heading])
        else:
            groups[-1].append(heading)
    if len(groups) < 2:
        return None
    intro = max(100, round(target_words * INTRO_SHARE))
    share = (target_words - intro) // len(groups)
    return [{"kind": "intro", "words": intro, "outline": []}] + \
           [{"kind": "section", "words": share, "outline": group} for group in groups]


def calls_for(target_words: int, outline: list[dict]) -> int:
    """How many model calls an article takes (not counting repairs)."""
    parts = plan(target_words, outline)
    return len(parts) if parts else 1


def _range(words: int) -> tuple[int, int]:
    return round(words * 0.75), round(words * 1.25)


def _check_part(data: dict, part: dict, where: str) -> None:
    if text.has_h1(data["body_html"]):
        raise OutputError("$.body_html has an H1 heading; use H2 and H3 only.")
    body = sanitize_html(data["body_html"])
    words, (low, high) = text.word_count(body), _range(part["words"])
    if not low <= words <= high:
        raise OutputError(f"$.body_html has {words:,} words; {where} must have {low:,}–{high:,}.")
    missing = text.missing_headings(part["outline"], body)
    if part["outline"] and len(missing) * 2 > len(part["outline"]):
        raise OutputError(f"$.body_html misses the heading “{missing[0][:80]}”; start with it as an H2.")


def steps(function, context: dict) -> list[Step]:
    """The calls for the task of a one-task context."""
    task = context["tasks"][0]
    messages = function.build_prompt(context)
    parts = plan(task["target_words"], task["outline"])
    if not parts:
        return [Step(messages=messages, schema=function.schema, check=lambda data: function.check(data, context),
                     demo=lambda: function.demo_answer(context))]
    system, brief = messages[0], messages[1]["content"].rsplit("\n\n", 1)[0]
    out = []
    for number, part in enumerate(parts, start=1):
        low, high = _range(part["words"])
        if part["kind"] == "intro":
            ask = (f"This long article is written in {len(parts)} parts. This is part 1: give the title, meta_title "
                   "(at most 60 characters), meta_description (at most 160), slug and excerpt, and as body_html "
                   f"only the introduction: {low}–{high} words of paragraphs, no headings.")
            schema, where = function.schema, "the introduction"
        else:
            heads = "; ".join(f"H{int(h.get('level', 2))} {h['text']}" for h in part["outline"])
            ask = (f"This long article is written in {len(parts)} parts. This is part {number}: write only the "
                   f"section with these headings, in order: {heads}. Start with the H2; {low}–{high} words; no H1. "
                   'Reply with a JSON object only, shaped like {"body_html": "<h2>…</h2><p>…</p>"}.')
            schema, where = SECTION_SCHEMA, f"part {number}"
        out.append(Step(messages=[system, {"role": "user", "content": f"{brief}\n\n{ask}"}], schema=schema,
                        check=lambda data, part=part, where=where: _check_part(data, part, where),
                        demo=lambda part=part: demo_part(task, part)))
    return out


def assemble(answers: list[dict]) -> dict:
    """One article from the answers of its calls (the first carries the title and meta fields)."""
    return {**answers[0], "body_html": "".join(a["body_html"] for a in answers)}


_FILLER = ("This placeholder sentence stands in for real writing about {kw} so the editor, review and "
           "publishing steps can be tried offline.")


def demo_body(task: dict, outline: list[dict], words: int, intro: str = "") -> str:
    """Labelled placeholder HTML of about `words` words carrying the given headings."""
    sentence = html.escape(_FILLER.format(kw=task.get("primary_keyword") or task["title"]))
    per_sentence = len(sentence.split())
    budget = max(0, words - len(intro.split()) - sum(len(h["text"].split()) for h in outline))
    parts = [f"<p>{html.escape(intro)}</p>"] if intro else []
    if not outline:
        return "".join(parts) + "<p>" + " ".join([sentence] * max(1, round(budget / per_sentence))) + "</p>"
    per_section = max(1, round(budget / per_sentence / len(outline)))
    for heading in outline:
        level = 3 if int(heading.get("level", 2)) == 3 else 2
        parts.append(f"<h{level}>{html.escape(heading['text'])}</h{level}>")
        parts.append("<p>" + " ".join([sentence] * per_section) + "</p>")
    return "".join(parts)


def demo_meta(task: dict) -> dict:
    # Titles from demo ideas already carry the label; label each article once.
    title = task["title"] if task["title"].startswith("Demo: ") else f"Demo: {task['title']}"
    return {"title": title[:300], "meta_title": title[:60], "meta_description": f"{DEMO_LABEL}: {task['title']}"[:160],
            "slug": text.slugify(task["title"]), "excerpt": f"{DEMO_LABEL}. A placeholder for “{task['title']}”."}


def demo_part(task: dict, part: dict) -> dict:
    """The demo provider's answer for one part of a long article."""
    if part["kind"] == "intro":
        intro = f"{DEMO_LABEL}. This is a placeholder article for “{task['title']}”."
        return {**demo_meta(task), "body_html": demo_body(task, [], part["words"], intro)}
    return {"body_html": demo_body(task, part["outline"], part["words"])}
