"""Builders for the writer tests: tasks to write, good and bad model answers, and reading the results back."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import undefer

from app import tenancy
from app.extensions import db
from app.models import Content, ContentVersion, Task
from tests.integration.ai_support import chat_answer
from tests.integration.helpers import add_site

OUTLINE = [{"level": 2, "text": "Why it matters"}, {"level": 3, "text": "The basics"},
           {"level": 2, "text": "How to choose"}, {"level": 2, "text": "Frequently asked questions"}]
TARGET = 400


def make_tasks(app, account_id: int, titles: list[str], *, site_name: str = "Coffee Blog",
               target: int = TARGET) -> dict:
    """A site with a sector and one queued task per title; returns ids."""
    site_id, sectors = add_site(app, account_id, site_name, ("Espresso",))
    with app.app_context(), tenancy.account_scope(account_id):
        tasks = [Task(site_id=site_id, sector_id=sectors[0], title=title, outline=OUTLINE, primary_keyword="espresso",
                      keywords=["espresso", "espresso machine"], target_words=target, status="queued")
                 for title in titles]
        db.session.add_all(tasks)
        db.session.commit()
        ids = {"site": site_id, "sector": sectors[0], "tasks": [t.id for t in tasks]}
        db.session.remove()
    return ids


def article(title: str, *, words: int = TARGET, body_extra: str = "", **overrides) -> dict:
    """A usable answer: every outline heading, about `words` words."""
    sentence = "Good espresso starts with fresh beans and a careful grind every single time."
    per = max(1, words // len(OUTLINE) // len(sentence.split()))
    body = "".join(f"<h{h['level']}>{h['text']}</h{h['level']}><p>{' '.join([sentence] * per)}</p>"
                   for h in OUTLINE) + body_extra
    answer = {"title": title, "meta_title": title[:60], "meta_description": f"All about {title}."[:160],
              "slug": title.lower().replace(" ", "-"), "excerpt": f"A short guide to {title}.", "body_html": body}
    answer.update(overrides)
    return answer


def title_of(request) -> str:
    """The task title a chat request is about (from its data message)."""
    messages = json.loads(request.get_data())["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    return user.split("\n", 1)[0].removeprefix("Title: ")


def answer_with(content) -> str:
    return json.dumps(chat_answer(content))


def articles(app, account_id: int) -> list[dict]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [{"id": c.id, "task_id": c.task_id, "title": c.title, "body": c.body_html, "status": c.status,
                 "slug": c.slug, "words": c.word_count, "version": c.version, "meta_title": c.meta_title,
                 "meta_description": c.meta_description}
                for c in db.session.scalars(select(Content).options(undefer(Content.body_html)).order_by(Content.id))]
        db.session.remove()
    return rows


def tasks_of(app, account_id: int) -> dict[int, tuple[str, str | None]]:
    with app.app_context(), tenancy.account_scope(account_id):
        out = {t.id: (t.status, t.error) for t in db.session.scalars(select(Task))}
        db.session.remove()
    return out


def version_count(app, account_id: int) -> int:
    with app.app_context(), tenancy.account_scope(account_id):
        count = len(list(db.session.scalars(select(ContentVersion.id))))
        db.session.remove()
    return count


def make_article(app, account_id: int, world: dict, *, status: str = "draft", title: str = "Espresso basics") -> int:
    """An article stored directly (no AI run), with its first version; returns its id."""
    from app.services.writer.content import add_version

    with app.app_context(), tenancy.account_scope(account_id):
        content = Content(site_id=world["site"], sector_id=world["sector"], title=title, slug="espresso-basics",
                          body_html="<h2>Start</h2><p>Some text.</p>", status=status, word_count=3)
        db.session.add(content)
        db.session.flush()
        add_version(content, reason="generation", user_id=None)
        db.session.commit()
        content_id = content.id
        db.session.remove()
    return content_id
