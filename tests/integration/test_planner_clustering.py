"""Stage 1 by hand: cluster keywords from the keyword table (semantic and LLM modes), with estimates,
credits settled to what was used, naming through the real `openai` client against a fake server."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import Cluster, Job, Keyword
from tests.integration.ai_support import (
    EMAIL,
    chat_answer,
    configure_openai,
    job_row,
    ledger,
    run_worker,
    setup_account,
)
from tests.integration.helpers import add_member, add_site, signed_in

PATH = "/v1/chat/completions"
KEYWORDS = [
    ("french press", 9000, "informational"), ("cafetiere", 4000, None), ("french press coffee maker", 2500, None),
    ("best french press", 1900, "commercial"), ("how to use a french press", 1200, "informational"),
    ("burr coffee grinder", 5000, None), ("coffee grinder", 8000, "commercial"), ("coffee mill", 700, None),
    ("best burr grinder", 1500, "commercial"), ("dog leash", 6000, None), ("leash training puppy", 2200, None),
    ("retractable dog leash", 1800, "commercial"), ("how to leash train a dog", 2100, "informational"),
]


@pytest.fixture
def ids(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def add_keywords(app, ids, rows) -> None:
    with app.app_context(), tenancy.account_scope(ids["account"]):
        db.session.add_all([Keyword(site_id=ids["site"], sector_id=ids["sector"], keyword=k, normalized=k,
                                    volume=v, intent=i) for k, v, i in rows])
        db.session.commit()
        db.session.remove()


def clusters_of(app, sector_id: int) -> dict[str, list[str]]:
    with app.app_context(), tenancy.all_accounts():
        out = {}
        for cluster in db.session.scalars(select(Cluster).where(Cluster.sector_id == sector_id)):
            out[cluster.name] = sorted(db.session.scalars(select(Keyword.keyword).where(
                Keyword.cluster_id == cluster.id)))
        db.session.remove()
    return out


def together(clusters: dict[str, list[str]], *words: str) -> bool:
    return any(all(w in members for w in words) for members in clusters.values())


def start(web, **form):
    data = {"scope": "unclustered", "mode": "semantic", "tightness": "50", "join_existing": "1", "tier": "testing"}
    data.update(form)
    return web.post("/planner/keywords/cluster", data, token_from="/planner/keywords/cluster?scope=unclustered")


def job_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_semantic_clustering_with_the_demo_model_shows_the_estimate_and_charges_per_keyword(app, ids):
    add_keywords(app, ids, KEYWORDS)
    web = signed_in(app, EMAIL)
    form = web.get("/planner/keywords/cluster?scope=unclustered").get_data(as_text=True)
    assert 'data-testid="cluster-count"><strong>13</strong>' in form
    estimate = web.get("/planner/keywords/cluster/estimate?scope=unclustered&mode=semantic&tightness=50"
                       "&join_existing=1&tier=testing").get_data(as_text=True)
    expected = math.ceil(0.05 * len(KEYWORDS))
    assert f"about <strong>{expected} credits</strong>" in estimate and "offline demo model" in estimate
    assert ledger(app, ids["account"])["balance"] == ids["start"]

    job_id = job_id_of(start(web))
    assert 'role="progressbar"' in web.get(f"/planner/clustering/{job_id}").get_data(as_text=True)
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job
    clusters = clusters_of(app, ids["sector"])
    assert together(clusters, "french press", "cafetiere")
    assert together(clusters, "coffee grinder", "coffee mill")
    assert not together(clusters, "french press", "dog leash")
    assert "french press" in clusters and "coffee grinder" in clusters  # demo names: the top keyword
    assert sum(len(m) for m in clusters.values()) == len(KEYWORDS)
    money = ledger(app, ids["account"])
    assert money["balance"] == ids["start"] - expected and money["balance"] == money["ledger"]
    page = web.get(f"/planner/clustering/{job_id}").get_data(as_text=True)
    assert "See the clusters" in page and "demo mode" in page


def test_new_keywords_join_close_existing_clusters(app, ids):
    add_keywords(app, ids, KEYWORDS)
    web = signed_in(app, EMAIL)
    start(web)
    run_worker(app)
    before = clusters_of(app, ids["sector"])
    add_keywords(app, ids, [("french press brewing guide", 300, None), ("electric coffee grinder", 900, None)])
    job_id = job_id_of(start(web))
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    after = clusters_of(app, ids["sector"])
    assert len(after) == len(before)  # nothing new: both joined
    assert together(after, "french press", "french press brewing guide")
    assert together(after, "coffee grinder", "electric coffee grinder")
    assert "joined existing clusters" in job_row(app, job_id)["result"]["summary"]


def test_clusters_saved_by_the_older_embedding_model_are_still_joined(app, ids):
    # Centroids written by the previous (256-wide, static) model cannot be compared with today's vectors:
    # they are recomputed from the cluster's keywords instead of breaking the run.
    add_keywords(app, ids, KEYWORDS)
    web = signed_in(app, EMAIL)
    start(web)
    run_worker(app)
    with app.app_context(), tenancy.all_accounts():
        for cluster in db.session.scalars(select(Cluster).where(Cluster.sector_id == ids["sector"])):
            cluster.centroid = bytes(256 * 4)
        db.session.commit()
        db.session.remove()
    before = clusters_of(app, ids["sector"])
    add_keywords(app, ids, [("french press brewing guide", 300, None)])
    job_id = job_id_of(start(web))
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    after = clusters_of(app, ids["sector"])
    assert len(after) == len(before)
    assert together(after, "french press", "french press brewing guide")


def test_live_naming_goes_through_the_openai_client_and_is_charged_by_tokens(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    add_keywords(app, ids, KEYWORDS[:5] + KEYWORDS[9:])

    def answer(request):
        from werkzeug import Response

        prompt = request.get_json()["messages"][-1]["content"]
        groups = [line for line in prompt.splitlines() if line[:1].isdigit()]
        body = {"clusters": [{"group": n, "name": f"Topic <script>alert(1)</script>{n}",
                              "description": "What people want.", "intent": "commercial"}
                             for n in range(1, len(groups) + 1)]}
        return Response(json.dumps(chat_answer(body, tokens_in=1500, tokens_out=500)), content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)
    web = signed_in(app, EMAIL)
    job_id = job_id_of(start(web, tier="live"))
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job
    names = list(clusters_of(app, ids["sector"]))
    assert names and all(n.startswith("Topic ") and "<script>" not in n for n in names)
    local = math.ceil(0.05 * 9)
    naming = math.ceil(2000 / 1000)  # GPT-4o mini: 1,000 tokens per credit, one call
    money = ledger(app, ids["account"])
    assert money["balance"] == ids["start"] - local - naming and money["balance"] == money["ledger"]


def test_naming_that_fails_keeps_simple_names_and_is_not_charged(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    add_keywords(app, ids, KEYWORDS)
    httpserver.expect_request(PATH, method="POST").respond_with_json(chat_answer("not json at all"))
    web = signed_in(app, EMAIL)
    job_id = job_id_of(start(web, tier="live"))
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "succeeded"
    assert "kept a simple name because naming failed" in job["result"]["summary"]
    assert "french press" in clusters_of(app, ids["sector"])
    money = ledger(app, ids["account"])
    assert money["balance"] == ids["start"] - math.ceil(0.05 * len(KEYWORDS))
    assert money["balance"] == money["ledger"]


def test_llm_mode_groups_small_selections_through_the_framework(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    add_keywords(app, ids, KEYWORDS[:4])
    answer = {"clusters": [{"name": "French press", "description": "Brewing with a press.", "intent": "informational",
                            "keywords": [1, 2, 3]},
                           {"name": "Buying a press", "description": "Choosing one.", "intent": "commercial",
                            "keywords": [4]}]}
    httpserver.expect_request(PATH, method="POST").respond_with_json(chat_answer(answer, tokens_in=800, tokens_out=200))
    web = signed_in(app, EMAIL)
    job_id = job_id_of(start(web, mode="llm", tier="live"))
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    clusters = clusters_of(app, ids["sector"])
    assert set(clusters) == {"French press", "Buying a press"}
    assert clusters["Buying a press"] == ["best french press"]
    money = ledger(app, ids["account"])
    assert money["balance"] == ids["start"] - 1 and money["balance"] == money["ledger"]


def test_llm_mode_refuses_big_selections_before_spending(app, ids):
    add_keywords(app, ids, [(f"keyword {i}", i, None) for i in range(151)])
    web = signed_in(app, EMAIL)
    response = start(web, mode="llm")
    assert response.status_code == 422
    assert "LLM clustering takes at most 150 keywords" in response.get_data(as_text=True)
    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalar(select(func.count(Job.id))) == 0
    assert ledger(app, ids["account"])["balance"] == ids["start"]


def test_short_balance_is_refused_with_a_link_to_buy_and_nothing_runs(app, ids):
    add_keywords(app, ids, [(f"keyword {i}", i, None) for i in range(3000)])
    with app.app_context(), tenancy.account_scope(ids["account"]):
        from app.services.billing import credits

        credits.adjust(account_id=ids["account"], amount=-(ids["start"] - 10), reason="Test: leave 10 credits", actor_user_id=None,
                       key="test-drain")
        db.session.remove()
    web = signed_in(app, EMAIL)
    estimate = web.get("/planner/keywords/cluster/estimate?scope=unclustered&mode=semantic&tightness=50"
                       "&tier=testing").get_data(as_text=True)
    assert "Not enough credits" in estimate and "/billing/buy" in estimate
    response = start(web)
    assert response.status_code == 402 and "Not enough credits" in response.get_data(as_text=True)
    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalar(select(func.count(Job.id))) == 0


def test_viewer_cannot_start_clustering(app, ids):
    add_keywords(app, ids, KEYWORDS[:3])
    add_member(app, ids["account"], email="viv@acme.example.com", role="viewer", site_ids=[ids["site"]])
    web = signed_in(app, "viv@acme.example.com")
    assert web.get("/planner/keywords/cluster?scope=unclustered").status_code == 403
    assert web.post("/planner/keywords/cluster", {"scope": "unclustered"}, token_from="/planner/keywords").status_code == 403


def test_selection_from_the_table_clusters_only_the_chosen_keywords(app, ids):
    add_keywords(app, ids, KEYWORDS)
    web = signed_in(app, EMAIL)
    with app.app_context(), tenancy.all_accounts():
        chosen = [str(i) for i in db.session.scalars(select(Keyword.id).where(
            Keyword.keyword.in_(["french press", "cafetiere", "dog leash"])))]
    response = web.post("/planner/keywords/bulk", {"action": "cluster", "ids": chosen}, token_from="/planner/keywords")
    assert response.status_code == 302 and "selection=" in response.headers["Location"]
    form = web.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="cluster-count"><strong>3</strong>' in form
    selection = response.headers["Location"].split("selection=")[1]
    job_id = job_id_of(start(web, scope="", selection=selection))
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    clustered = sum(len(m) for m in clusters_of(app, ids["sector"]).values())
    assert clustered == 3

