"""Planner stages 2 and 3: ideas generated for clusters through the AI framework (real worker, fake OpenAI
server, offline demo provider), the ideas page, and tasks made from ideas."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from app import tenancy
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import AuthorProfile, Cluster, ContentStrategy, Idea, Keyword, Site, Task
from app.services.billing import credits
from app.services.ai.providers import DEMO_LABEL
from app.services.planner import ideas as idea_service
from app.services.planner import tasks as task_service
from tests.integration.ai_support import (
    EMAIL,
    chat_answer,
    configure_openai,
    job_count,
    job_row,
    ledger,
    run_worker,
    setup_account,
)
from tests.integration.helpers import add_member, add_site, signed_in, two_accounts

PATH = "/v1/chat/completions"
IDEAS = "/planner/ideas"
ESPRESSO = [("espresso machine", 12000), ("best espresso machine", 5400), ("espresso machine for beginners", 900)]
DESCALING = [("descale espresso machine", 2000), ("how to descale", 1500), ("descaling solution", 800)]


def _cluster(site_id: int, sector_id: int, name: str, keywords, intent: str | None = None) -> Cluster:
    cluster = Cluster(site_id=site_id, sector_id=sector_id, name=name, intent=intent,
                      description=f"Searches about {name.lower()}.")
    db.session.add(cluster)
    db.session.flush()
    for keyword, volume in keywords:
        db.session.add(Keyword(site_id=site_id, sector_id=sector_id, keyword=keyword, normalized=keyword.lower(),
                               volume=volume, cluster_id=cluster.id))
    return cluster


def build_world(app, account_id: int, site_name: str = "Coffee Blog") -> dict:
    """A site with two sectors; in the first, two clusters with keywords and one without."""
    site_id, sectors = add_site(app, account_id, site_name, ("Espresso", "Brewing"))
    with app.app_context(), tenancy.account_scope(account_id):
        espresso = _cluster(site_id, sectors[0], "Espresso machines", ESPRESSO, "commercial")
        descaling = _cluster(site_id, sectors[0], "Descaling", DESCALING, "informational")
        empty = _cluster(site_id, sectors[0], "Empty cluster", [])
        db.session.commit()
        world = {"account": account_id, "site": site_id, "sectors": sectors, "espresso": espresso.id,
                 "descaling": descaling.id, "empty": empty.id}
        db.session.remove()
    return world


@pytest.fixture
def ids(app):
    return setup_account(app)


@pytest.fixture
def world(app, ids):
    return {**build_world(app, ids["account"]), "user": ids["user"], "start": ids["start"]}


@pytest.fixture
def fake_openai(app, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    return httpserver


def ideas_in_db(app, account_id: int) -> list[dict]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [{"id": i.id, "cluster_id": i.cluster_id, "title": i.title, "summary": i.summary,
                 "outline": i.outline, "content_type": i.content_type, "structure": i.structure,
                 "primary": i.primary_keyword, "secondary": i.secondary_keywords, "words": i.target_words,
                 "status": i.status, "job_id": i.job_id}
                for i in db.session.scalars(select(Idea).order_by(Idea.id))]
        db.session.remove()
    return rows


def tasks_in_db(app, account_id: int) -> list[Task]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = list(db.session.scalars(select(Task).order_by(Task.id)))
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
    return rows


def start(app, world, *, clusters, per_cluster=2, tier="live") -> int:
    with app.app_context(), tenancy.account_scope(world["account"]):
        job = idea_service.start_ideas(sector_id=world["sectors"][0], cluster_ids=clusters, per_cluster=per_cluster,
                                       tier=tier, created_by_id=world["user"])
        job_id = job.id
        db.session.remove()
    return job_id


def idea(primary: str, **overrides) -> dict:
    base = {"title": f"All about {primary}", "summary": "A helpful article.",
            "outline": [{"level": 2, "text": "Start here"}, {"level": 3, "text": "Details"}],
            "content_type": "post", "structure": "guide", "primary_keyword": primary,
            "secondary_keywords": [], "target_words": 1800}
    return {**base, **overrides}


def sent(server) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]


# --- Generation through the framework ----------------------------------------------------------

def test_estimate_is_shown_before_confirming_and_the_demo_run_saves_labelled_ideas(app, world):
    web = signed_in(app, EMAIL)
    form = {"cluster_ids": [world["espresso"], world["descaling"]], "per_cluster": "2", "tier": "testing"}
    page = web.post(f"{IDEAS}/generate/estimate", form, token_from=IDEAS, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="estimate"' in html
    assert "Espresso machines" in html and "Descaling" in html and "offline demo, not AI" in html
    assert 'name="per_cluster"' in html and "Confirm and generate" in html
    assert ledger(app, world["account"])["balance"] == world["start"] and job_count(app) == 0

    started = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)
    assert started.status_code == 302
    run_url = started.headers["Location"]
    job_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
    assert f'id="job-{job_id}"' in web.get(run_url).get_data(as_text=True)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["ideas"] == 4 and job["result"]["demo"] is True
    rows = ideas_in_db(app, world["account"])
    assert len(rows) == 4 and {r["cluster_id"] for r in rows} == {world["espresso"], world["descaling"]}
    for row in rows:
        assert row["summary"].startswith(DEMO_LABEL) and row["title"].startswith("Demo: ")
        assert row["status"] == "new" and row["job_id"] == job_id
        keywords = {k for k, _ in (ESPRESSO if row["cluster_id"] == world["espresso"] else DESCALING)}
        assert row["primary"] in keywords and set(row["secondary"]) <= keywords
        assert row["outline"][0]["level"] == 2
    results = web.get(f"{run_url}/results").get_data(as_text=True)
    assert "Demo text — not written by AI" in results and "See the ideas" in results
    listing = web.get(IDEAS).get_data(as_text=True)
    assert "Demo: The Complete Guide to Espresso Machine" in listing
    books = ledger(app, world["account"])
    assert books["balance"] == world["start"] - job["charged"] == books["ledger"] and job["charged"] >= 1


def test_a_good_answer_is_cleaned_and_keywords_are_taken_from_the_cluster(app, world, fake_openai):
    answer = {"ideas": [
        idea("Best Espresso Machine", title="<b>The best</b> espresso machines <script>x()</script>",
             secondary_keywords=["ESPRESSO MACHINE", "coffee grinder", "espresso machine"],
             structure="comparison", content_type="product"),
        {k: v for k, v in idea("espresso machine for beginners", structure="how-to").items() if k != "content_type"},
    ]}
    fake_openai.expect_request(PATH, method="POST").respond_with_json(chat_answer(answer))
    job_id = start(app, world, clusters=[world["espresso"]])
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    first, second = ideas_in_db(app, world["account"])
    assert first["title"] == "The best espresso machines"  # markup and script removed
    assert first["primary"] == "best espresso machine"  # the cluster's own spelling
    assert first["secondary"] == ["espresso machine"]  # unknown and duplicate keywords dropped
    assert (first["content_type"], first["structure"], first["words"]) == ("product", "comparison", 1800)
    assert second["content_type"] == "post"  # a missing type means a blog post
    system, user = sent(fake_openai)[0]["messages"]
    assert "Espresso machines" in system["content"] and "espresso machine for beginners" in system["content"]
    assert "best espresso machine (5,400 searches a month)" in user["content"]
    # 2,100 + 400 tokens at 1,000 per credit → 3 credits.
    assert ledger(app, world["account"])["balance"] == world["start"] - 3


def test_a_primary_keyword_from_outside_the_cluster_is_repaired_once(app, world, fake_openai):
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer({"ideas": [idea("french press")]}))
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer({"ideas": [idea("how to descale")]}))
    job_id = start(app, world, clusters=[world["descaling"]], per_cluster=1)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    repair = sent(fake_openai)[1]["messages"][-1]["content"]
    assert "“french press” is not one of the cluster's keywords" in repair
    assert [r["primary"] for r in ideas_in_db(app, world["account"])] == ["how to descale"]


def test_a_cluster_whose_answer_fails_twice_fails_alone_and_is_not_charged(app, world, fake_openai):
    bad = chat_answer({"ideas": [idea("french press")]})
    fake_openai.expect_ordered_request(PATH).respond_with_json(bad)
    fake_openai.expect_ordered_request(PATH).respond_with_json(bad)
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer({"ideas": [idea("how to descale")]}))
    job_id = start(app, world, clusters=[world["espresso"], world["descaling"]], per_cluster=1)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    failed, done = job["result"]["clusters"]
    assert failed["ideas"] == 0 and "not one of the cluster's keywords" in failed["error"]
    assert done == {"id": world["descaling"], "name": "Descaling", "ideas": 1, "error": None}
    assert "1 cluster(s) got none and were not charged" in job["result"]["summary"]
    assert [r["cluster_id"] for r in ideas_in_db(app, world["account"])] == [world["descaling"]]
    assert ledger(app, world["account"])["balance"] == world["start"] - 3  # only the saved cluster's call


def test_malformed_json_twice_saves_nothing_and_refunds_everything(app, world, fake_openai):
    fake_openai.expect_request(PATH).respond_with_json(chat_answer('{"ideas": [', tokens_in=900, tokens_out=20))
    job_id = start(app, world, clusters=[world["espresso"]])
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "failed" and "unusable answer twice" in job["error"] and "not valid JSON" in job["error"]
    assert len(fake_openai.log) == 2 and ideas_in_db(app, world["account"]) == []
    books = ledger(app, world["account"])
    assert books["balance"] == world["start"] == books["ledger"]
    assert books["usage"] == [] and books["reservations"][0][0] == "refunded"


def test_the_estimate_page_is_a_get_so_back_and_reload_resend_nothing(app, world):
    web = signed_in(app, EMAIL)
    form = {"cluster_ids": [world["espresso"], world["descaling"]], "per_cluster": "2", "tier": "testing"}
    chosen = web.post(f"{IDEAS}/generate/estimate", form, token_from=IDEAS)
    assert chosen.status_code == 303
    estimate_url = chosen.headers["Location"]
    assert estimate_url.startswith(f"{IDEAS}/generate/estimate?") and "per_cluster=2" in estimate_url
    for _ in range(2):  # a reload, or Back from the run page, is a plain GET of the same page
        page = web.get(estimate_url)
        assert page.status_code == 200 and 'data-testid="estimate"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert '<form method="get"' in html and 'id="ideas-confirm-form"' in html
    assert job_count(app) == 0 and ledger(app, world["account"])["balance"] == world["start"]
    started = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)
    assert started.status_code == 302
    assert web.get(estimate_url).status_code == 200 and job_count(app) == 1


def test_a_short_balance_refuses_with_the_buy_credits_link_and_enqueues_nothing(app, world):
    with app.app_context(), tenancy.account_scope(world["account"]):
        credits.adjust(account_id=world["account"], amount=-world["start"], reason="Spent elsewhere",
                       actor_user_id=None, key="test-drain")
        db.session.remove()
    web = signed_in(app, EMAIL)
    form = {"cluster_ids": [world["espresso"]], "per_cluster": "3", "tier": "testing"}
    page = web.post(f"{IDEAS}/generate/estimate", form, token_from=IDEAS, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Not enough credits" in html and "/billing/buy" in html
    assert 'disabled aria-disabled="true">Confirm and generate' in html

    refused = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 402 and "Not enough credits" in html and 'href="/billing/buy"' in html
    assert job_count(app) == 0 and ledger(app, world["account"])["reservations"] == []
    assert ledger(app, world["account"])["balance"] == 0


def test_bad_selections_are_refused_before_anything_is_spent(app, world):
    web = signed_in(app, EMAIL)
    empty = web.post(f"{IDEAS}/generate/estimate", {"cluster_ids": [world["empty"]], "per_cluster": "2"},
                     token_from=IDEAS, follow_redirects=True)
    assert empty.status_code == 422 and "have no keywords" in empty.get_data(as_text=True)
    assert "Empty cluster" in empty.get_data(as_text=True)
    too_many = web.post(f"{IDEAS}/generate/estimate", {"cluster_ids": [world["espresso"]], "per_cluster": "11"},
                        token_from=IDEAS, follow_redirects=True)
    assert too_many.status_code == 422 and "from 1 to 10" in too_many.get_data(as_text=True)
    nothing = web.post(f"{IDEAS}/generate/estimate", {"per_cluster": "2"}, token_from=IDEAS, follow_redirects=True)
    assert "Choose at least one cluster" in nothing.get_data(as_text=True)
    other_sector = web.post(f"{IDEAS}/generate", {"cluster_ids": [world["espresso"], 999_999]}, token_from=IDEAS)
    assert other_sector.status_code == 404
    with app.app_context(), tenancy.account_scope(world["account"]):
        with pytest.raises(ValidationError, match="At most 50 clusters"):
            idea_service.estimate_ideas(sector_id=world["sectors"][0], cluster_ids=list(range(1, 52)), per_cluster=1)
        db.session.remove()
    assert job_count(app) == 0 and ledger(app, world["account"])["balance"] == world["start"]


# --- Ideas page and editing ------------------------------------------------------------------

def add_ideas(app, world, specs) -> list[int]:
    """Ideas made directly: (cluster key, title, content_type, structure, status)."""
    with app.app_context(), tenancy.account_scope(world["account"]):
        rows = []
        for cluster, title, content_type, structure, status in specs:
            keywords = ESPRESSO if cluster == "espresso" else DESCALING
            rows.append(Idea(site_id=world["site"], sector_id=world["sectors"][0], cluster_id=world[cluster],
                             title=title, summary="", outline=[{"level": 2, "text": "Intro"}],
                             content_type=content_type, structure=structure, primary_keyword=keywords[0][0],
                             secondary_keywords=[keywords[1][0]], target_words=1200, status=status))
        db.session.add_all(rows)
        db.session.commit()
        out = [r.id for r in rows]
        db.session.remove()
    return out


def test_ideas_page_filters_by_status_type_structure_cluster_and_text(app, world):
    add_ideas(app, world, [("espresso", "Best machines compared", "post", "comparison", "new"),
                           ("espresso", "Buy the Barista Pro", "product", "review", "queued"),
                           ("descaling", "How to descale in 5 steps", "post", "how-to", "new")])
    web = signed_in(app, EMAIL)

    def titles(query: str, **headers) -> set[str]:
        html = web.get(f"{IDEAS}?{query}", headers=headers).get_data(as_text=True)
        return {t for t in ("Best machines compared", "Buy the Barista Pro", "How to descale in 5 steps") if t in html}

    assert len(titles("")) == 3
    assert titles("type=product") == {"Buy the Barista Pro"}
    assert titles("status=new") == {"Best machines compared", "How to descale in 5 steps"}
    assert titles("structure=how-to") == {"How to descale in 5 steps"}
    assert titles(f"cluster={world['descaling']}") == {"How to descale in 5 steps"}
    assert titles("q=barista") == {"Buy the Barista Pro"}
    assert titles("q=100%25") == set()
    fragment = web.get(f"{IDEAS}?type=product", headers={"HX-Request": "true", "HX-Target": "ideas-list"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="ideas-list"' in html and "Buy the Barista Pro" in html


def test_other_sectors_ideas_are_not_listed(app, world):
    with app.app_context(), tenancy.account_scope(world["account"]):
        db.session.add(Idea(site_id=world["site"], sector_id=world["sectors"][1], title="Pour-over basics",
                            primary_keyword="pour over"))
        db.session.commit()
        db.session.remove()
    web = signed_in(app, EMAIL)
    assert "Pour-over basics" not in web.get(IDEAS).get_data(as_text=True)


def test_editing_an_idea_validates_every_field_and_saves_nothing_when_one_is_wrong(app, world):
    (idea_id,) = add_ideas(app, world, [("espresso", "Original title", "post", "guide", "new")])
    web = signed_in(app, EMAIL)
    url = f"{IDEAS}/{idea_id}"
    good = {"title": "Espresso machines for beginners", "summary": "What to buy first.",
            "outline": "## Why start simple\n### Budget\n\n## Our picks", "content_type": "product",
            "structure": "listicle", "primary_keyword": "espresso machine for beginners",
            "secondary_keywords": "espresso machine, best espresso machine, Espresso Machine", "target_words": "2200"}
    bad_outline = web.post(url, {**good, "outline": "## Fine\nNot a heading"}, token_from=url)
    assert bad_outline.status_code == 422 and "Outline line 2 must start with" in bad_outline.get_data(as_text=True)
    bad_length = web.post(url, {**good, "target_words": "50"}, token_from=url)
    assert bad_length.status_code == 422 and "from 300 to 10,000" in bad_length.get_data(as_text=True)
    bad_type = web.post(url, {**good, "content_type": "poem"}, token_from=url)
    assert bad_type.status_code == 422
    assert ideas_in_db(app, world["account"])[0]["title"] == "Original title"

    saved = web.post(url, good, token_from=url)
    assert saved.status_code == 302
    row = ideas_in_db(app, world["account"])[0]
    assert row["title"] == "Espresso machines for beginners" and row["words"] == 2200
    assert row["outline"] == [{"level": 2, "text": "Why start simple"}, {"level": 3, "text": "Budget"},
                              {"level": 2, "text": "Our picks"}]
    assert row["secondary"] == ["espresso machine", "best espresso machine"]
    assert (row["content_type"], row["structure"]) == ("product", "listicle")
    assert "### Budget" in web.get(url).get_data(as_text=True)


def test_deleting_ideas(app, world):
    first, second = add_ideas(app, world, [("espresso", "One", "post", "guide", "new"),
                                           ("espresso", "Two", "post", "guide", "new")])
    web = signed_in(app, EMAIL)
    response = web.post(f"{IDEAS}/delete", {"idea_ids": [first]}, token_from=IDEAS, follow_redirects=True)
    assert "Deleted 1 idea(s)" in response.get_data(as_text=True)
    assert [r["id"] for r in ideas_in_db(app, world["account"])] == [second]


# --- Tasks -----------------------------------------------------------------------------------

def set_site_defaults(app, world) -> tuple[int, int]:
    with app.app_context(), tenancy.account_scope(world["account"]):
        profile = AuthorProfile(name="Friendly expert", tone="warm")
        strategy = ContentStrategy(name="Helpful guides", target_words=2500)
        db.session.add_all([profile, strategy])
        db.session.flush()
        site = db.session.get(Site, world["site"])
        site.default_author_profile_id, site.default_strategy_id = profile.id, strategy.id
        db.session.commit()
        out = profile.id, strategy.id
        db.session.remove()
    return out


def test_create_tasks_carries_the_idea_and_site_defaults_and_a_second_submit_makes_no_more(app, world):
    profile_id, strategy_id = set_site_defaults(app, world)
    first, second = add_ideas(app, world, [("espresso", "Best machines compared", "product", "comparison", "new"),
                                           ("descaling", "How to descale", "post", "how-to", "new")])
    web = signed_in(app, EMAIL)
    response = web.post("/planner/tasks/create", {"idea_ids": [first, second]}, token_from=IDEAS)
    assert response.status_code == 302 and response.headers["Location"].endswith("/planner/tasks")
    tasks = tasks_in_db(app, world["account"])
    assert [t.idea_id for t in tasks] == [first, second]
    task = tasks[0]
    assert (task.title, task.content_type, task.structure, task.target_words) == (
        "Best machines compared", "product", "comparison", 1200)  # the idea's own length wins
    assert task.keywords == ["espresso machine", "best espresso machine"] and task.primary_keyword == "espresso machine"
    assert task.outline == [{"level": 2, "text": "Intro"}] and task.cluster_id == world["espresso"]
    assert (task.author_profile_id, task.strategy_id, task.status) == (profile_id, strategy_id, "queued")
    assert {r["status"] for r in ideas_in_db(app, world["account"])} == {"queued"}

    again = web.post("/planner/tasks/create", {"idea_ids": [first, second]}, token_from=IDEAS, follow_redirects=True)
    assert "already has a task" in again.get_data(as_text=True)
    assert len(tasks_in_db(app, world["account"])) == 2
    listing = web.get("/planner/tasks").get_data(as_text=True)
    assert "Best machines compared" in listing and 'data-testid="task-status">Queued' in listing
    detail = web.get(f"/planner/tasks/{task.id}").get_data(as_text=True)
    assert "Friendly expert" in detail and "Helpful guides" in detail


def test_simultaneous_create_tasks_requests_make_one_task_per_idea(app, world):
    idea_ids = add_ideas(app, world, [("espresso", f"Idea {n}", "post", "guide", "new") for n in range(5)])
    outcomes, errors = [], []

    def create():
        try:
            with app.app_context(), tenancy.account_scope(world["account"]):
                created, skipped = task_service.create_tasks(idea_ids=idea_ids)
                outcomes.append((len(created), len(skipped)))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == [(0, 5), (0, 5), (5, 0)]
    assert sorted(t.idea_id for t in tasks_in_db(app, world["account"])) == sorted(idea_ids)


def test_deleting_a_task_returns_its_idea_to_new_and_tasks_filter_by_status(app, world):
    first, second = add_ideas(app, world, [("espresso", "Kept", "post", "guide", "new"),
                                           ("espresso", "Dropped", "post", "guide", "new")])
    with app.app_context(), tenancy.account_scope(world["account"]):
        task_service.create_tasks(idea_ids=[first, second])
        kept = db.session.scalars(select(Task).where(Task.idea_id == first)).one()
        kept.status = "completed"
        db.session.commit()
        dropped_id = db.session.scalars(select(Task.id).where(Task.idea_id == second)).one()
        db.session.remove()
    web = signed_in(app, EMAIL)
    assert "Kept" in web.get("/planner/tasks?status=completed").get_data(as_text=True)
    assert "Dropped" not in web.get("/planner/tasks?status=completed").get_data(as_text=True)
    web.post("/planner/tasks/delete", {"task_ids": [dropped_id]}, token_from="/planner/tasks")
    assert [t.idea_id for t in tasks_in_db(app, world["account"])] == [first]
    assert {r["id"]: r["status"] for r in ideas_in_db(app, world["account"])} == {first: "queued", second: "new"}


def test_archived_ideas_get_no_task(app, world):
    (archived,) = add_ideas(app, world, [("espresso", "Old idea", "post", "guide", "archived")])
    with app.app_context(), tenancy.account_scope(world["account"]):
        created, skipped = task_service.create_tasks(idea_ids=[archived])
        assert created == [] and skipped[0].reason == "is archived"
        db.session.remove()


# --- Roles, empty states and tenancy ---------------------------------------------------------

def test_viewers_read_but_every_change_answers_403(app, world):
    (idea_id,) = add_ideas(app, world, [("espresso", "Viewer sees this", "post", "guide", "new")])
    add_member(app, world["account"], email="vera@acme.example.com", role="viewer", site_ids=[world["site"]])
    web = signed_in(app, "vera@acme.example.com")
    listing = web.get(IDEAS).get_data(as_text=True)
    assert "Viewer sees this" in listing and "Create tasks" not in listing
    assert 'data-testid="idea-read-only"' in web.get(f"{IDEAS}/{idea_id}").get_data(as_text=True)
    posts = [(f"{IDEAS}/generate/estimate", {"cluster_ids": [world["espresso"]]}),
             (f"{IDEAS}/generate", {"cluster_ids": [world["espresso"]], "per_cluster": "1"}),
             (f"{IDEAS}/{idea_id}", {"title": "Changed", "primary_keyword": "x", "target_words": "900",
                                     "content_type": "post", "structure": "guide"}),
             (f"{IDEAS}/delete", {"idea_ids": [idea_id]}),
             ("/planner/tasks/create", {"idea_ids": [idea_id]}),
             ("/planner/tasks/delete", {"task_ids": [1]})]
    for path, data in posts:
        assert web.post(path, data, token_from=IDEAS).status_code == 403, path
    assert ideas_in_db(app, world["account"])[0]["title"] == "Viewer sees this"
    assert tasks_in_db(app, world["account"]) == [] and job_count(app) == 0


def test_pages_without_a_site_say_what_to_do_next(app, ids):
    web = signed_in(app, EMAIL)
    for path in (IDEAS, "/planner/tasks"):
        html = web.get(path).get_data(as_text=True)
        assert "Add a site" in html and "/sites/new" in html, path


def test_another_accounts_clusters_ideas_tasks_and_runs_answer_404(app):
    accounts = two_accounts(app)
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        cluster = _cluster(a["site"], a["sectors"][0], "Acme cluster", ESPRESSO)
        db.session.flush()
        idea_row = Idea(site_id=a["site"], sector_id=a["sectors"][0], cluster_id=cluster.id, title="Acme idea",
                        primary_keyword="espresso machine")
        db.session.add(idea_row)
        db.session.flush()
        created, _ = task_service.create_tasks(idea_ids=[idea_row.id])
        from app.models import Job

        job = Job(kind="ai.idea_generation", title="Idea generation", payload={})
        db.session.add(job)
        db.session.commit()
        foreign = {"cluster": cluster.id, "idea": idea_row.id, "task": created[0].id, "job": job.id}
        db.session.remove()
    web = signed_in(app, accounts["b"]["email"])
    gets = [f"{IDEAS}/{foreign['idea']}", f"/planner/tasks/{foreign['task']}", f"{IDEAS}/generate/{foreign['job']}",
            f"{IDEAS}/generate/{foreign['job']}/results"]
    for path in gets:
        response = web.get(path)
        assert response.status_code == 404 and "Acme" not in response.get_data(as_text=True), path
    posts = [(f"{IDEAS}/generate/estimate", {"cluster_ids": [foreign["cluster"]], "per_cluster": "1"}),
             (f"{IDEAS}/generate", {"cluster_ids": [foreign["cluster"]], "per_cluster": "1"}),
             (f"{IDEAS}/{foreign['idea']}", {"title": "Hijacked", "primary_keyword": "x", "target_words": "900",
                                            "content_type": "post", "structure": "guide"}),
             (f"{IDEAS}/delete", {"idea_ids": [foreign["idea"]]}),
             ("/planner/tasks/create", {"idea_ids": [foreign["idea"]]}),
             ("/planner/tasks/delete", {"task_ids": [foreign["task"]]})]
    for path, data in posts:
        response = web.post(path, data, token_from=IDEAS)
        assert response.status_code == 404 and "Acme" not in response.get_data(as_text=True), path
    assert "Acme idea" not in web.get(IDEAS).get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(a["account"]):
        assert db.session.get(Idea, foreign["idea"]).title == "Acme idea"
        assert db.session.get(Task, foreign["task"]) is not None
        db.session.remove()
    with app.app_context(), tenancy.account_scope(accounts["b"]["account"]):
        with pytest.raises(NotFound):
            task_service.create_tasks(idea_ids=[foreign["idea"]])
        db.session.remove()
