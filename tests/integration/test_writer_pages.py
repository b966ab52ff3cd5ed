"""Writer pages through HTTP: tasks → estimate → write → progress; the editor with versions, diff and restore;
status moves, the review queue and auto-approve; roles and the module switch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Account, Content
from app.services.writer import status as status_service
from tests.integration.ai_support import EMAIL, job_count, job_row, ledger, run_worker, setup_account
from tests.integration.helpers import add_member, add_site, signed_in
from tests.integration.writer_support import articles, make_article, make_tasks, tasks_of

TASKS = "/writer/tasks"


@pytest.fixture
def ids(app):
    return setup_account(app)


@pytest.fixture
def world(app, ids):
    return {**ids, **make_tasks(app, ids["account"], ["Espresso at home", "Milk frothing", "Grinder care"])}


def write(app, web, task_ids) -> int:
    """Estimate, confirm and run the writing job through the pages; returns the job id."""
    form = {"task_ids": task_ids, "tier": "testing"}
    started = web.post(f"{TASKS}/generate", form, token_from=TASKS)
    assert started.status_code == 302, started.get_data(as_text=True)[:800]
    job_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    run_worker(app)
    return job_id


def one_article(app, web, world) -> int:
    write(app, web, world["tasks"][:1])
    return articles(app, world["account"])[0]["id"]


def editor_form(page_html: str) -> dict:
    """The editor's current values, as a browser would send them back."""
    def value(name):
        found = re.search(rf'name="{name}" value="([^"]*)"', page_html)
        return found.group(1) if found else ""

    def area(name):
        found = re.search(rf'<textarea id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page_html, re.S)
        return found.group(1) if found else ""

    import html

    return {"title": html.unescape(value("title")), "meta_title": html.unescape(value("meta_title")),
            "slug": value("slug"), "base_version": value("base_version"),
            "meta_description": html.unescape(area("meta_description")),
            "excerpt": html.unescape(area("excerpt")), "body_html": html.unescape(area("body_html"))}


# --- Tasks → articles ---------------------------------------------------------------------------

def test_select_estimate_write_and_see_the_articles_with_credits_before_and_after(app, world):
    web = signed_in(app, EMAIL)
    assert web.get("/writer/").headers["Location"].endswith(TASKS)
    listing = web.get(TASKS).get_data(as_text=True)
    assert "Espresso at home" in listing and 'data-testid="write-selected"' in listing
    assert 'href="/writer/"' in listing  # the sidebar entry

    form = {"task_ids": world["tasks"], "tier": "testing"}
    estimate = web.post(f"{TASKS}/estimate", form, token_from=TASKS).get_data(as_text=True)
    assert 'data-testid="estimate"' in estimate and "3 model calls" in estimate and "offline demo, not AI" in estimate
    shown = int(re.search(r"about <strong>([\d,]+) credits", estimate).group(1))
    assert ledger(app, world["account"])["balance"] == world["start"] and job_count(app) == 0

    job_id = write(app, web, world["tasks"])
    run_page = web.get(f"/writer/runs/{job_id}").get_data(as_text=True)
    assert f'id="job-{job_id}"' in run_page and "Open the article" in run_page
    charged = job_row(app, job_id)["charged"]
    assert 0 < charged <= shown
    assert ledger(app, world["account"])["balance"] == world["start"] - charged
    content = web.get("/writer/content").get_data(as_text=True)
    assert all(f"Demo: {t}" in content for t in ("Espresso at home", "Milk frothing", "Grinder care"))


def test_double_clicking_generate_makes_one_job_and_one_charge(app, world):
    web = signed_in(app, EMAIL)
    form = {"task_ids": world["tasks"][:1], "tier": "testing"}
    first = web.post(f"{TASKS}/generate", form, token_from=TASKS)
    second = web.post(f"{TASKS}/generate", form, token_from=TASKS)
    assert first.status_code == 302 and second.status_code == 409
    assert "already being written" in second.get_data(as_text=True)
    run_worker(app)
    assert job_count(app) == 1 and len(articles(app, world["account"])) == 1
    assert len(ledger(app, world["account"])["usage"]) == 1


def test_a_failed_task_shows_its_reason_and_can_be_retried(app, world):
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Task

        task = db.session.get(Task, world["tasks"][0])
        task.status, task.error = "failed", "The model gave an unusable answer twice."
        db.session.commit()
        db.session.remove()
    web = signed_in(app, EMAIL)
    page = web.get(f"{TASKS}?status=failed").get_data(as_text=True)
    assert "The model gave an unusable answer twice." in page and 'data-testid="retry"' in page
    # Retry shows the cost and the model first, like any run; nothing is reserved until it is confirmed.
    retried = web.post(f"{TASKS}/{world['tasks'][0]}/retry", {}, token_from=TASKS)
    estimate = retried.get_data(as_text=True)
    assert retried.status_code == 200 and 'data-testid="confirm-generate"' in estimate
    assert "1 article to write" in estimate and "Espresso at home" in estimate and "1 model call" in estimate
    assert f'name="task_ids" value="{world["tasks"][0]}"' in estimate
    assert job_count(app) == 0 and ledger(app, world["account"])["balance"] == world["start"]
    confirmed = web.post(f"{TASKS}/generate", {"task_ids": world["tasks"][:1], "tier": "testing"}, token_from=TASKS)
    assert confirmed.status_code == 302
    run_worker(app)
    assert tasks_of(app, world["account"])[world["tasks"][0]] == ("completed", None)
    # A task that is not failed any more is not offered again.
    again = web.post(f"{TASKS}/{world['tasks'][0]}/retry", {}, token_from=TASKS, follow_redirects=True)
    assert "already has an article" in again.get_data(as_text=True) and job_count(app) == 1


@pytest.mark.parametrize("target, message", [
    (0, "asks for 0 words; articles can be written from 300 to 6,000 words"),
    (100_000, "asks for 100,000 words; articles can be written from 300 to 6,000 words"),
])
def test_a_target_length_that_cannot_be_written_is_named_on_the_page_and_nothing_starts(app, ids, target, message):
    world = {**ids, **make_tasks(app, ids["account"], ["Espresso at home", "Odd length"], target=400)}
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Task

        db.session.get(Task, world["tasks"][1]).target_words = target
        db.session.commit()
        db.session.remove()
    web = signed_in(app, EMAIL)
    form = {"task_ids": world["tasks"], "tier": "testing"}
    for path in ("estimate", "generate"):
        response = web.post(f"{TASKS}/{path}", form, token_from=TASKS)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and f"“Odd length” {message}" in html, path
    assert job_count(app) == 0 and set(tasks_of(app, world["account"]).values()) == {("queued", None)}
    assert ledger(app, world["account"])["balance"] == world["start"]


# --- The editor and versions -----------------------------------------------------------------------

def test_editor_save_sanitizes_keeps_a_version_and_restore_brings_back_the_old_text(app, world):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    page = web.get(url).get_data(as_text=True)
    assert 'data-counter="60"' in page and 'data-counter="160"' in page and 'data-testid="preview"' in page
    form = editor_form(page)
    original_body = form["body_html"]
    form.update(title="Espresso, edited", body_html="<h2>New start</h2><p>Fresh text.</p>"
                                                      '<script>alert(1)</script><p onclick="x()">Safe</p>')
    saved = web.post(url, form, token_from=url)
    assert saved.status_code == 302
    [row] = articles(app, world["account"])
    assert row["title"] == "Espresso, edited" and row["version"] == 2
    assert "<script" not in row["body"] and "onclick" not in row["body"] and "Fresh text." in row["body"]

    history = web.get(f"{url}/versions").get_data(as_text=True)
    assert "AI writing" in history and "Written by" in history  # what made version 1 (the model)
    edited = history[history.index('id="version-2"'):history.index('id="version-1"')]
    assert 'Edit by <span data-testid="version-author">Olive Owner</span>' in edited  # who made version 2
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", edited)  # and when
    diff = web.get(f"{url}/versions/2").get_data(as_text=True)
    assert "+ &lt;h2&gt;New start&lt;/h2&gt;" in diff and "Espresso, edited" in diff

    restored = web.post(f"{url}/versions/1/restore", {}, token_from=url)
    assert restored.status_code == 302
    [row] = articles(app, world["account"])
    assert row["body"] == original_body and row["version"] == 3 and row["title"].startswith("Demo: ")
    history = web.get(f"{url}/versions").get_data(as_text=True)
    assert "Restore by <span data-testid=\"version-author\">Olive Owner</span>" in history
    assert "Restored version 1" in history


def test_a_stale_save_is_refused_and_the_text_stays_in_the_form(app, world):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    mine = editor_form(web.get(url).get_data(as_text=True))
    add_member(app, world["account"], email="cole@acme.example.com", role="editor", site_ids=[world["site"]])
    colleague = signed_in(app, "cole@acme.example.com")
    theirs = dict(editor_form(colleague.get(url).get_data(as_text=True)), title="Their title")
    assert colleague.post(url, theirs, token_from=url).status_code == 302  # a colleague saves first

    mine["body_html"] = "<h2>My careful edit</h2><p>Hours of work.</p>"
    refused = web.post(url, mine, token_from=url)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "This article was changed while you were editing it: cole saved it at" in html
    assert "making version 2 (you started from version 1). Nothing was saved." in html
    assert "My careful edit" in html and 'name="base_version" value="1"' in html  # nothing lost
    [row] = articles(app, world["account"])
    assert row["title"] == "Their title" and "My careful edit" not in row["body"] and row["version"] == 2

    # The image stage placing images meanwhile is named as such.
    mine = editor_form(web.get(url).get_data(as_text=True))
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.services.writer.content import add_version

        content = db.session.get(Content, content_id)
        content.body_html += "<figure><img src=\"/x.webp\" alt=\"x\"></figure>"
        add_version(content, reason="generation", user_id=None, note="Images placed")
        db.session.commit()
        db.session.remove()
    refused = web.post(url, dict(mine, title="Mine"), token_from=url)
    assert refused.status_code == 409
    assert "the AI placed its images at" in refused.get_data(as_text=True)
    assert articles(app, world["account"])[0]["title"] == "Their title"


@pytest.mark.parametrize("field,value,message", [
    ("meta_title", "x" * 61, "meta title has 61 characters"),
    ("title", "   ", "Give the article a title"),
    ("body_html", "<p>" + "word " * 400_000 + "</p>", "an article can be at most 1 MB"),
    ("body_html", "<h1>Second title</h1><p>Text</p>", "The body has an H1 heading"),
])
def test_bad_editor_input_gets_a_clear_message_and_changes_nothing(app, world, field, value, message):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    before = articles(app, world["account"])
    form = dict(editor_form(web.get(url).get_data(as_text=True)), **{field: value})
    response = web.post(url, form, token_from=url)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert articles(app, world["account"]) == before


def test_a_slug_another_article_of_the_site_uses_is_refused_and_changes_nothing(app, world):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    make_article(app, world["account"], world, title="Espresso basics")  # its slug: espresso-basics
    url = f"/writer/content/{content_id}"
    before = articles(app, world["account"])
    form = dict(editor_form(web.get(url).get_data(as_text=True)), slug="Espresso Basics")
    response = web.post(url, form, token_from=url)
    assert response.status_code == 422
    assert "Another article of this site already uses the slug “espresso-basics”" in response.get_data(as_text=True)
    assert articles(app, world["account"]) == before


def test_a_slug_another_run_takes_while_saving_is_refused_with_the_reason_and_the_text_kept(app, world):
    """A writing run holds a new article's slug in its open transaction; an editor choosing that slug meanwhile
    gets the slug message once the run commits, not an error page."""
    import threading

    from sqlalchemy import text as sql

    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    before = articles(app, world["account"])
    with app.app_context():
        other = db.engine.connect()
    held = other.begin()
    other.execute(sql("INSERT INTO content (title, slug, secondary_keywords, outline, site_id, account_id) "
                      "VALUES ('Being written', 'house-blend', '[]', '[]', :site, :account)"),
                  {"site": world["site"], "account": world["account"]})
    form = dict(editor_form(web.get(url).get_data(as_text=True)), slug="house-blend",
                body_html="<h2>My edit</h2><p>Kept.</p>")
    timer = threading.Timer(2, lambda: (held.commit(), other.close()))
    timer.start()
    response = web.post(url, form, token_from=url)  # waits on the run's row, then is refused
    timer.join()
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:500]
    assert "Another article of this site took the slug “house-blend” a moment ago" in html and "My edit" in html
    assert [r for r in articles(app, world["account"]) if r["title"] != "Being written"] == before

    # Restoring a version whose slug a run is saving meanwhile: refused with the reason, then works once more.
    form = dict(editor_form(web.get(url).get_data(as_text=True)), slug="single-origin")
    assert web.post(url, form, token_from=url).status_code == 302  # version 2 has slug single-origin
    form = dict(editor_form(web.get(url).get_data(as_text=True)), slug="blend-two")
    assert web.post(url, form, token_from=url).status_code == 302  # version 3 moves away from it
    with app.app_context():
        other = db.engine.connect()
    held = other.begin()
    other.execute(sql("INSERT INTO content (title, slug, secondary_keywords, outline, site_id, account_id) "
                      "VALUES ('Also being written', 'single-origin', '[]', '[]', :site, :account)"),
                  {"site": world["site"], "account": world["account"]})
    timer = threading.Timer(2, lambda: (held.commit(), other.close()))
    timer.start()
    refused = web.post(f"{url}/versions/2/restore", {}, token_from=url, follow_redirects=True)
    timer.join()
    assert "took the slug “single-origin” a moment ago" in refused.get_data(as_text=True)
    assert [r["slug"] for r in articles(app, world["account"]) if r["id"] == content_id] == ["blend-two"]
    assert web.post(f"{url}/versions/2/restore", {}, token_from=url).status_code == 302
    [mine] = [r for r in articles(app, world["account"]) if r["id"] == content_id]
    assert mine["slug"] == "single-origin-2" and mine["version"] == 4


def test_restoring_a_version_whose_slug_another_article_took_since_gives_the_next_free_slug(app, world):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    original = articles(app, world["account"])[0]["slug"]
    form = dict(editor_form(web.get(url).get_data(as_text=True)), slug="moved-away")
    assert web.post(url, form, token_from=url).status_code == 302
    other_id = make_article(app, world["account"], world, title="Another article")
    other_url = f"/writer/content/{other_id}"
    form = dict(editor_form(web.get(other_url).get_data(as_text=True)), slug=original)
    assert web.post(other_url, form, token_from=other_url).status_code == 302  # it takes the freed slug

    restored = web.post(f"{url}/versions/1/restore", {}, token_from=url, follow_redirects=True)
    assert restored.status_code == 200 and "Version 1 restored" in restored.get_data(as_text=True)
    slugs = {r["id"]: r["slug"] for r in articles(app, world["account"])}
    assert slugs == {content_id: f"{original}-2", other_id: original}


def test_a_meta_only_edit_is_a_version_whose_diff_shows_the_change_and_an_unchanged_save_is_not(app, world):
    web = signed_in(app, EMAIL)
    content_id = one_article(app, web, world)
    url = f"/writer/content/{content_id}"
    form = editor_form(web.get(url).get_data(as_text=True))
    old_description = form["meta_description"]
    assert web.post(url, form, token_from=url).status_code == 302  # nothing changed: no new version
    assert articles(app, world["account"])[0]["version"] == 1
    form = editor_form(web.get(url).get_data(as_text=True))
    form["meta_description"] = "Pull a better shot at home with fresh beans and a good grinder."
    assert web.post(url, form, token_from=url).status_code == 302
    assert articles(app, world["account"])[0]["version"] == 2
    history = web.get(f"{url}/versions").get_data(as_text=True)
    assert 'id="version-2"' in history and 'id="version-1"' in history
    diff = web.get(f"{url}/versions/2").get_data(as_text=True)
    change = diff[diff.index('data-testid="field-change"'):]
    assert "Meta description" in change and f"<del>{old_description}</del>" in change
    assert "<ins>Pull a better shot at home with fresh beans and a good grinder.</ins>" in change
    assert "0 line(s) added, 0 removed" in diff
    # Restoring version 1 brings the old description back, as version 3; its diff shows the way back.
    assert web.post(f"{url}/versions/1/restore", {}, token_from=url).status_code == 302
    [row] = articles(app, world["account"])
    assert row["version"] == 3 and row["meta_description"] == old_description
    back = web.get(f"{url}/versions/3").get_data(as_text=True)
    assert f"<ins>{old_description}</ins>" in back
    # Restoring the current version is refused with a reason.
    refused = web.post(f"{url}/versions/3/restore", {}, token_from=url, follow_redirects=True)
    assert "Version 3 is already the current text." in refused.get_data(as_text=True)
    assert articles(app, world["account"])[0]["version"] == 3


def test_an_unsafe_body_already_in_the_database_is_shown_clean_in_the_editor_preview_and_the_review_queue(app, world):
    """Imported articles (publishing, the optimizer) may arrive with markup the writer never stored: the preview
    sanitizes what it shows, whatever is stored."""
    content_id = make_article(app, world["account"], world, status="review")
    dirty = ('<h2>Start</h2><p onclick="steal()">Click <a href="javascript:alert(1)">here</a></p>'
             '<script>alert(1)</script><iframe src="https://evil.example.com"></iframe>'
             '<img src="x.png" onerror="alert(2)"><p>Kept text.</p>')
    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.get(Content, content_id)
        row.body_html, row.source, row.title = dirty, "imported", "<b>Imported</b> & odd"
        db.session.commit()
        db.session.remove()
    web = signed_in(app, EMAIL)
    for path in (f"/writer/content/{content_id}", "/writer/review"):
        page = web.get(path).get_data(as_text=True)
        preview = page[page.index('data-testid="preview"'):].split("</article>", 1)[0]
        assert "Kept text." in preview and "<h2>Start</h2>" in preview, path
        for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "<b>Imported"):
            assert bad not in preview, (path, bad)
    # The editor's own textarea holds the stored text escaped, so it cannot run either; saving cleans it.
    editor = web.get(f"/writer/content/{content_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in editor


# --- Status moves, review and auto-approve ------------------------------------------------------------

ALL = ("draft", "review", "approved", "scheduled", "published")
USER_MOVES = {("draft", "review"), ("review", "approved"), ("review", "draft")}


@pytest.mark.parametrize("start,to", [(a, b) for a in ALL for b in ALL if a != b])
def test_every_allowed_move_works_and_every_other_is_refused(app, world, start, to):
    web = signed_in(app, EMAIL)
    content_id = make_article(app, world["account"], world, status=start)
    url = f"/writer/content/{content_id}"
    web.post(f"{url}/status", {"to": to, "note": "Tighten the intro."}, token_from=url)
    [row] = articles(app, world["account"])
    assert row["status"] == (to if (start, to) in USER_MOVES else start)
    if (start, to) not in USER_MOVES:
        page = web.get(url).get_data(as_text=True)
        assert "cannot go from" in page or "set by publishing" in page


def test_publishing_moves_are_reserved_for_publishing(app, world):
    content_id = make_article(app, world["account"], world, status="approved")
    with app.app_context(), tenancy.account_scope(world["account"]):
        status_service.change_status(content_id=content_id, to="scheduled", actor="publishing")
        status_service.change_status(content_id=content_id, to="published", actor="publishing")
        db.session.remove()
    assert articles(app, world["account"])[0]["status"] == "published"


def test_review_queue_previews_approves_requests_changes_and_bulk_approves(app, world):
    web = signed_in(app, EMAIL)
    write(app, web, world["tasks"])
    ids = [r["id"] for r in articles(app, world["account"])]
    sent = web.post("/writer/content/bulk", {"content_ids": ids, "action": "review"}, token_from="/writer/content")
    assert sent.status_code == 302
    queue = web.get("/writer/review").get_data(as_text=True)
    assert queue.count('data-testid="preview"') == 3 and "<h2>Why it matters</h2>" in queue
    assert "Demo text — not written by AI" in queue

    no_note = web.post(f"/writer/review/{ids[0]}/changes", {"note": " "}, token_from="/writer/review")
    assert no_note.status_code == 302
    assert articles(app, world["account"])[0]["status"] == "review"
    web.post(f"/writer/review/{ids[0]}/changes", {"note": "Add a price table."}, token_from="/writer/review")
    web.post(f"/writer/review/{ids[1]}/approve", {}, token_from="/writer/review")
    statuses = {r["id"]: r["status"] for r in articles(app, world["account"])}
    assert statuses == {ids[0]: "draft", ids[1]: "approved", ids[2]: "review"}
    assert "Add a price table." in web.get(f"/writer/content/{ids[0]}").get_data(as_text=True)

    web.post("/writer/content/bulk", {"content_ids": [ids[0]], "action": "review"}, token_from="/writer/content")
    web.post("/writer/content/bulk", {"content_ids": [ids[0], ids[2]], "action": "approve",
                                      "next": "/writer/review"}, token_from="/writer/review")
    assert {r["status"] for r in articles(app, world["account"])} == {"approved"}


def test_auto_approve_is_off_by_default_and_when_on_finished_articles_are_approved(app, world):
    web = signed_in(app, EMAIL)
    settings = web.get("/writer/settings").get_data(as_text=True)
    assert 'data-testid="auto-approve"' in settings and "checked" not in settings.split('data-testid="auto-approve"')[0][-200:]
    write(app, web, world["tasks"][:1])
    assert articles(app, world["account"])[0]["status"] == "draft"
    assert web.post("/writer/settings", {"auto_approve": "on"}, token_from="/writer/settings").status_code == 302
    write(app, web, world["tasks"][1:2])
    assert [r["status"] for r in articles(app, world["account"])] == ["draft", "approved"]


# --- Roles and the module switch ------------------------------------------------------------------------

def test_viewer_reads_but_cannot_edit_approve_or_write(app, world):
    owner = signed_in(app, EMAIL)
    content_id = one_article(app, owner, world)
    add_member(app, world["account"], email="vera@acme.example.com", role="viewer", site_ids=[world["site"]])
    viewer = signed_in(app, "vera@acme.example.com")
    url = f"/writer/content/{content_id}"
    page = viewer.get(url)
    assert page.status_code == 200 and 'data-testid="save"' not in page.get_data(as_text=True)
    form = dict(editor_form(page.get_data(as_text=True)), title="Viewer was here")
    assert viewer.post(url, form, token_from=url).status_code == 403
    assert viewer.post(f"{url}/status", {"to": "review"}, token_from=url).status_code == 403
    assert viewer.post(f"{TASKS}/generate", {"task_ids": world["tasks"][1:2]}, token_from=TASKS).status_code == 403
    [row] = articles(app, world["account"])
    assert row["status"] == "draft" and row["title"] != "Viewer was here"
    # Nor approve, request changes, bulk approve, restore or change the site's settings.
    owner.post(f"{url}/status", {"to": "review"}, token_from=url)
    queue = viewer.get("/writer/review")
    assert queue.status_code == 200 and 'data-testid="preview"' in queue.get_data(as_text=True)
    assert 'data-testid="approve"' not in queue.get_data(as_text=True)
    for path, form in ((f"/writer/review/{content_id}/approve", {}),
                       (f"/writer/review/{content_id}/changes", {"note": "Viewer says no"}),
                       ("/writer/content/bulk", {"content_ids": [content_id], "action": "approve"}),
                       (f"{url}/versions/1/restore", {}),
                       ("/writer/settings", {"auto_approve": "on"})):
        assert viewer.post(path, form, token_from="/writer/review").status_code == 403, path
    assert articles(app, world["account"])[0]["status"] == "review"
    assert "checked" not in owner.get("/writer/settings").get_data(as_text=True).split(
        'data-testid="auto-approve"')[1][:200]


def test_editor_works_only_on_granted_sites(app, world):
    owner = signed_in(app, EMAIL)
    content_id = one_article(app, owner, world)
    other_site, _sectors = add_site(app, world["account"], "Tea Blog", ("Green tea",))
    add_member(app, world["account"], email="ed@acme.example.com", role="editor", site_ids=[other_site])
    editor = signed_in(app, "ed@acme.example.com")
    url = f"/writer/content/{content_id}"
    assert editor.get(url).status_code == 404
    assert editor.post(f"{url}/status", {"to": "review"}, token_from="/writer/content").status_code == 404
    assert editor.post(f"{TASKS}/generate", {"task_ids": world["tasks"][1:2]},
                       token_from="/writer/content").status_code == 404
    for path, form in ((f"/writer/review/{content_id}/approve", {}), (f"{url}/versions/1/restore", {}),
                       ("/writer/content/bulk", {"content_ids": [content_id], "action": "delete"}),
                       ("/writer/images/estimate", {"content_ids": content_id, "what": "prompts"})):
        assert editor.post(path, form, token_from="/writer/content").status_code == 404, path
    assert editor.get(f"{url}/versions").status_code == 404
    assert "Demo: " not in editor.get("/writer/content").get_data(as_text=True)  # not even listed
    assert articles(app, world["account"])[0]["status"] == "draft" and job_count(app) == 1
    add_member(app, world["account"], email="eve@acme.example.com", role="editor", site_ids=[world["site"]])
    granted = signed_in(app, "eve@acme.example.com")
    assert granted.post(f"{url}/status", {"to": "review"}, token_from=url).status_code == 302
    assert articles(app, world["account"])[0]["status"] == "review"


def test_writer_module_off_refuses_pages_and_jobs(app, world):
    web = signed_in(app, EMAIL)
    with app.app_context(), tenancy.account_scope(world["account"]):
        account = db.session.scalars(select(Account)).one()
        account.modules = {**(account.modules or {}), "writer": False}
        db.session.commit()
        db.session.remove()
    assert web.get(TASKS).status_code == 403
    assert web.post(f"{TASKS}/generate", {"task_ids": world["tasks"]}, token_from="/").status_code == 403
    assert 'href="/writer/"' not in web.get("/").get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.errors import DomainError
        from app.services.writer import runner

        with pytest.raises(DomainError, match="Writer module is turned off"):
            runner.start_generation(task_ids=world["tasks"], tier="testing", created_by_id=world["user"])
        db.session.remove()
    assert job_count(app) == 0 and set(tasks_of(app, world["account"]).values()) == {("queued", None)}
    for path in ("/writer/content", "/writer/review", "/writer/images", "/writer/settings"):
        assert web.get(path).status_code == 403, path


def test_a_run_queued_before_the_module_was_turned_off_is_refused_by_the_worker(app, world):
    web = signed_in(app, EMAIL)
    assert web.post(f"{TASKS}/generate", {"task_ids": world["tasks"][:1], "tier": "testing"},
                    token_from=TASKS).status_code == 302
    with app.app_context(), tenancy.account_scope(world["account"]):
        account = db.session.scalars(select(Account)).one()
        account.modules = {**(account.modules or {}), "writer": False}
        db.session.commit()
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Job

        job = db.session.scalars(select(Job)).one()
        status, error = job.status, job.error
        db.session.remove()
    assert status == "failed" and "Writer module is turned off" in error
    assert articles(app, world["account"]) == []
    task_status, reason = tasks_of(app, world["account"])[world["tasks"][0]]
    assert task_status == "failed" and "Writer module is turned off" in reason
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] and money["usage"] == []


# --- The content list: filters, export and delete ---------------------------------------------------------

def test_content_list_filters_by_word_range_exports_csv_and_delete_frees_the_task(app, world):
    web = signed_in(app, EMAIL)
    write(app, web, world["tasks"][:2])
    rows = articles(app, world["account"])
    with app.app_context(), tenancy.account_scope(world["account"]):
        short = db.session.get(Content, rows[0]["id"])
        short.word_count, short.title = 120, "=HYPERLINK(\"http://evil\")"
        db.session.commit()
        db.session.remove()
    listing = web.get("/writer/content?min_words=300").get_data(as_text=True)
    assert rows[1]["title"] in listing and "HYPERLINK" not in listing

    export = web.get("/writer/content/export.csv")
    text = export.get_data(as_text=True)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "'=HYPERLINK" in text and rows[1]["title"] in text and text.count("\n") == 3

    deleted = web.post("/writer/content/bulk", {"content_ids": [rows[0]["id"]], "action": "delete"},
                       token_from="/writer/content")
    assert deleted.status_code == 302
    assert [r["id"] for r in articles(app, world["account"])] == [rows[1]["id"]]
    task_of_deleted = next(t for t in world["tasks"][:2] if t not in [r["task_id"] for r in articles(app, world["account"])])
    assert tasks_of(app, world["account"])[task_of_deleted] == ("queued", None)


# --- The content list: cluster and date filters, sorting, "all matching", bad input ----------------------------

def add_articles(app, world, rows: list[dict]) -> list[int]:
    """Articles stored directly with the given fields (cluster given by name is made in the sector)."""
    from datetime import datetime, timezone

    from app.models import Cluster, ContentImage

    with app.app_context(), tenancy.account_scope(world["account"]):
        clusters, ids = {}, []
        for n, row in enumerate(rows):
            row = dict(row)
            name, image_credits = row.pop("cluster", None), row.pop("image_credits", 0)
            if name and name not in clusters:
                clusters[name] = Cluster(site_id=world["site"], sector_id=world["sector"], name=name)
                db.session.add(clusters[name])
                db.session.flush()
            for stamp in ("created_at", "updated_at"):
                if isinstance(row.get(stamp), str):
                    row[stamp] = datetime.fromisoformat(row[stamp]).replace(tzinfo=timezone.utc)
            content = Content(site_id=world["site"], sector_id=world["sector"], slug=f"article-{n}",
                              body_html="<p>Text.</p>", cluster_id=clusters[name].id if name else None,
                              **{"status": "draft", "word_count": 100, **row})
            db.session.add(content)
            db.session.flush()
            if image_credits:
                db.session.add(ContentImage(site_id=world["site"], content_id=content.id, kind="featured",
                                            status="generated", credits=image_credits))
            ids.append(content.id)
        db.session.commit()
        db.session.remove()
    return ids


def listed(html: str) -> list[int]:
    """The article ids in the list, top to bottom."""
    return [int(n) for n in re.findall(r'<tr id="content-(\d+)"', html)]


@pytest.fixture
def catalogue(app, world):
    """Four articles that differ in every filtered and sorted column."""
    rows = [
        {"title": "Alpha grinders", "status": "draft", "word_count": 900, "cluster": "Grinders",
         "created_at": "2026-01-10 09:00", "updated_at": "2026-02-01 12:00", "image_credits": 5},
        {"title": "beta brewing", "status": "review", "word_count": 300, "cluster": "Brewing",
         "created_at": "2026-01-20 09:00", "updated_at": "2026-01-21 12:00", "image_credits": 40},
        {"title": "Gamma milk", "status": "approved", "word_count": 1500, "content_type": "page",
         "created_at": "2026-02-05 09:00", "updated_at": "2026-02-06 12:00"},
        {"title": "Delta grinders", "status": "draft", "word_count": 600, "cluster": "Grinders",
         "created_at": "2026-02-20 09:00", "updated_at": "2026-02-21 12:00", "image_credits": 10},
    ]
    return dict(zip(["alpha", "beta", "gamma", "delta"], add_articles(app, world, rows)))


def test_content_list_filters_by_cluster_and_by_created_or_updated_date(app, world, catalogue):
    web, a = signed_in(app, EMAIL), catalogue
    page = web.get("/writer/content").get_data(as_text=True)
    assert ">Grinders</option>" in page and ">Brewing</option>" in page  # the clusters that have articles
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Cluster

        grinders = db.session.scalars(select(Cluster.id).where(Cluster.name == "Grinders")).one()
        db.session.remove()
    assert sorted(listed(web.get(f"/writer/content?cluster={grinders}").get_data(as_text=True))) == \
        sorted([a["alpha"], a["delta"]])
    assert listed(web.get("/writer/content?cluster=none").get_data(as_text=True)) == [a["gamma"]]
    # Created between two days, both included; then the same range on the updated date.
    created = web.get("/writer/content?date_from=2026-01-10&date_to=2026-01-20").get_data(as_text=True)
    assert sorted(listed(created)) == sorted([a["alpha"], a["beta"]])
    updated = web.get("/writer/content?date_field=updated&date_from=2026-02-01&date_to=2026-02-06")
    assert sorted(listed(updated.get_data(as_text=True))) == sorted([a["alpha"], a["gamma"]])
    # Filters combine with the others (type, words, images, search).
    assert listed(web.get(f"/writer/content?cluster={grinders}&min_words=700").get_data(as_text=True)) == [a["alpha"]]
    assert listed(web.get("/writer/content?type=page&images=no").get_data(as_text=True)) == [a["gamma"]]
    assert listed(web.get("/writer/content?q=BREW&status=review").get_data(as_text=True)) == [a["beta"]]


@pytest.mark.parametrize("query, expected", [
    ("", ["delta", "gamma", "beta", "alpha"]),  # newest first
    ("sort=created&direction=asc", ["alpha", "beta", "gamma", "delta"]),
    ("sort=title", ["alpha", "beta", "delta", "gamma"]),  # A–Z whatever the case
    ("sort=title&direction=desc", ["gamma", "delta", "beta", "alpha"]),
    ("sort=words", ["gamma", "alpha", "delta", "beta"]),  # longest first
    ("sort=words&direction=asc", ["beta", "delta", "alpha", "gamma"]),
    ("sort=status", ["alpha", "delta", "beta", "gamma"]),  # draft → review → approved, then by id
    ("sort=updated", ["delta", "gamma", "alpha", "beta"]),
    ("sort=credits&costs=1", ["beta", "delta", "alpha", "gamma"]),  # the credits column: most spent first
])
def test_content_list_sorts_by_each_whitelisted_column_on_the_server(app, world, catalogue, query, expected):
    web = signed_in(app, EMAIL)
    response = web.get(f"/writer/content?{query}")
    assert response.status_code == 200
    assert listed(response.get_data(as_text=True)) == [catalogue[name] for name in expected]


def test_sorting_is_kept_in_the_links_the_pager_the_export_and_after_a_bulk_action(app, world):
    titles = [f"Article {n:02d}" for n in range(55)]
    ids = add_articles(app, world, [{"title": t, "word_count": 100 + n, "cluster": "Grinders" if n % 2 else None}
                                    for n, t in enumerate(titles)])
    by_id = dict(zip(ids, titles))
    web = signed_in(app, EMAIL)
    first = web.get("/writer/content?sort=title&direction=asc&min_words=101").get_data(as_text=True)
    expected = sorted(t for n, t in enumerate(titles) if n >= 1)
    assert [by_id[i] for i in listed(first)] == expected[:50]
    # The column header flips the direction and keeps the filter; the pager keeps both.
    assert 'href="/writer/content?min_words=101&amp;sort=title&amp;direction=desc"' in first
    pager = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "sort=title" in pager and "min_words=101" in pager and "page=2" in pager
    second = web.get(pager).get_data(as_text=True)
    assert [by_id[i] for i in listed(second)] == expected[50:]  # no article twice, none left out
    # The export has the same articles in the same order.
    export = re.search(r'href="(/writer/content/export\.csv[^"]*)"', first).group(1).replace("&amp;", "&")
    lines = web.get(export).get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("ID,Title,Status,Type,Structure,Cluster,")
    assert [line.split(",")[1] for line in lines[1:]] == expected
    # A bulk action returns to the same filtered, sorted list.
    form = {"content_ids": [ids[20]], "action": "review", "sort": "title", "min_words": "101"}
    moved = web.post("/writer/content/bulk", form, token_from="/writer/content")
    assert moved.status_code == 302 and "sort=title" in moved.headers["Location"]
    assert "min_words=101" in moved.headers["Location"]


def test_apply_to_all_matching_acts_on_every_filtered_article_and_no_other(app, world):
    ids = add_articles(app, world, [{"title": f"Grinder {n}", "cluster": "Grinders"} for n in range(53)]
                       + [{"title": f"Milk {n}"} for n in range(3)])
    web = signed_in(app, EMAIL)
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Cluster

        grinders = db.session.scalars(select(Cluster.id).where(Cluster.name == "Grinders")).one()
        db.session.remove()
    page = web.get(f"/writer/content?cluster={grinders}").get_data(as_text=True)
    assert "Apply to all 53 matching articles" in page
    assert f'<input type="hidden" name="cluster" value="{grinders}">' in page  # the filter travels with the form
    form = {"action": "review", "all_matching": "1", "cluster": str(grinders)}
    moved = web.post("/writer/content/bulk", form, token_from="/writer/content")
    assert moved.status_code == 302 and f"cluster={grinders}" in moved.headers["Location"]
    statuses = {r["id"]: r["status"] for r in articles(app, world["account"])}
    assert [statuses[i] for i in ids[:53]] == ["review"] * 53
    assert [statuses[i] for i in ids[53:]] == ["draft"] * 3
    # A filter that cannot be applied never widens "all matching": nothing changes and the reason is shown.
    form = {"action": "approve", "all_matching": "1", "cluster": str(grinders), "date_from": "2026-13-45"}
    refused = web.post("/writer/content/bulk", form, token_from="/writer/content")
    assert refused.status_code == 302
    shown = web.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Nothing was changed" in shown and "2026-13-45" in shown
    assert {r["status"] for r in articles(app, world["account"])} == {"review", "draft"}


@pytest.mark.parametrize("query, message", [
    ("sort=password", "cannot be sorted by “password”"),
    ("sort=title&direction=sideways", "“sideways” is not a sort direction"),
    ("date_from=2026-13-45", "“2026-13-45” is not a date"),
    ("date_to=31/01/2026", "“31/01/2026” is not a date"),
    ("date_from=2026-03-01&date_to=2026-02-01", "starts on 2026-03-01, after it ends on 2026-02-01"),
    ("min_words=900&max_words=300", "from 900 to 300: the first number must not be larger"),
    ("min_words=lots", "“lots” is not a word count"),
    ("cluster=abc", "“abc” is not a cluster"),
    ("status=lost", "“lost” is not a status"),
    ("date_field=birthday&date_from=2026-01-01", "is not a date to filter by"),
])
def test_bad_list_input_gets_a_clear_message_and_the_rest_of_the_list(app, world, catalogue, query, message):
    web = signed_in(app, EMAIL)
    response = web.get(f"/writer/content?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:500]
    assert message in html and 'data-testid="filter-errors"' in html
    assert len(listed(html)) >= 1  # the list is still there, without the filter that could not be applied
    fragment = web.get(f"/writer/content?{query}", headers={"HX-Request": "true", "HX-Target": "content-list"})
    assert fragment.status_code == 422 and message in fragment.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)


def test_an_export_with_a_filter_that_cannot_be_applied_is_refused(app, world, catalogue):
    web = signed_in(app, EMAIL)
    response = web.get("/writer/content/export.csv?date_from=2026-13-45")
    assert response.status_code == 422 and response.mimetype != "text/csv"
    assert "Nothing was exported" in response.get_data(as_text=True)
