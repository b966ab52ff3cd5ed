"""Out-of-range and malformed numbers: every route's numeric path parameters and the known numeric query
and form parameters, generated from the URL map. Nothing answers 500; ids in paths answer 404."""

from __future__ import annotations

import re

import pytest

from app import tenancy
from app.extensions import db
from app.models import Cluster, Idea, Job, Keyword, Task
from app.services.operator import create_operator
from tests.conftest import Browserless, csrf_token, login
from tests.integration.helpers import signed_in, two_accounts

HUGE = "1" * 30
BAD_VALUES = [HUGE, "100000000000000000000", "-99999999999999999999", "inf", "nan", "1e400", "-1", "abc"]
# Query and form fields that carry numbers anywhere in the product.
NUMERIC_FIELDS = [
    "page", "per_page", "volume_min", "volume_max", "difficulty_min", "difficulty_max", "cluster", "cluster_id",
    "cluster_ids", "idea_ids", "task_ids", "ids", "seed_ids", "keyword_ids", "to_cluster_id", "target_id",
    "site_id", "site_ids", "sector_id", "sector_template_ids", "package_id", "plan_id", "industry_id",
    "template_id", "per_cluster", "tightness", "target_words", "volume", "difficulty", "cpc", "credits",
    "amount", "threshold", "author_profile_id", "strategy_id", "monthly_credits", "price", "selection",
    "tokens_per_credit", "credits_per_image", "min_credits", "max_retries", "low_balance_threshold",
]
# Endpoints that end the session or are not ours to probe with junk.
SKIP_ENDPOINTS = {"auth.logout", "static", "rq_dashboard.static", "operator.act_as", "operator.leave_act_as",
                  "settings.password", "settings.sign_out_everywhere"}  # these end the session under test
INT_PARAM = re.compile(r"<int:[a-z_]+>")


def _world(app) -> dict:
    accounts = two_accounts(app)
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        cluster = Cluster(site_id=a["site"], sector_id=a["sectors"][0], name="Espresso")
        db.session.add(cluster)
        db.session.flush()
        db.session.add(Keyword(site_id=a["site"], sector_id=a["sectors"][0], keyword="espresso",
                               normalized="espresso", volume=100, cluster_id=cluster.id))
        idea = Idea(site_id=a["site"], sector_id=a["sectors"][0], cluster_id=cluster.id, title="Espresso guide")
        db.session.add(idea)
        db.session.flush()
        db.session.add(Task(site_id=a["site"], sector_id=a["sectors"][0], idea_id=idea.id, title="Write it"))
        db.session.add(Job(kind="site.check", title="Check", payload={"site_id": a["site"]}))
        db.session.commit()
        db.session.remove()
    with app.app_context(), tenancy.all_accounts():
        create_operator(email="ops@igny8.example.com", password="correct-horse-battery")
        db.session.remove()
    return accounts


def _rules(app, *, with_ids: bool):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIP_ENDPOINTS or rule.rule.startswith("/static"):
            continue
        if bool(INT_PARAM.search(rule.rule)) != with_ids:
            continue
        if not with_ids and "<" in rule.rule:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def _client_for(app, path: str) -> Browserless:
    if path.startswith("/operator"):
        client = app.test_client()
        assert login(client, "ops@igny8.example.com").status_code == 302
        return Browserless(client)
    return signed_in(app, "alice@acme.example.com")


def test_ids_out_of_range_in_every_path_answer_404(app):
    _world(app)
    failures = []
    clients = {}
    for method, rule in _rules(app, with_ids=True):
        key = rule.startswith("/operator")
        web = clients.get(key) or clients.setdefault(key, _client_for(app, rule))
        path = INT_PARAM.sub(HUGE, rule).replace("<job_id>", "x").replace("<queue_name>", "default")
        path = re.sub(r"<[a-z_:]+>", "x", path)
        token = csrf_token(web.client, "/operator/" if key else "/sites/")
        response = (web.get(path) if method == "GET"
                    else web.client.post(path, data={"csrf_token": token}))
        if response.status_code != 404:
            failures.append((method, path, response.status_code))
    assert not failures, "\n".join(map(str, failures))


@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_numbers_in_queries_and_forms_never_answer_500(app, value):
    _world(app)
    failures = []
    clients = {}
    fields = {name: value for name in NUMERIC_FIELDS}
    for method, rule in _rules(app, with_ids=False):
        key = rule.startswith("/operator")
        web = clients.get(key) or clients.setdefault(key, _client_for(app, rule))
        if method == "GET":
            response = web.get(rule, query_string=fields)
        else:
            token = csrf_token(web.client, "/operator/" if key else "/sites/")
            response = web.client.post(rule, data={**fields, "csrf_token": token, "action": "move"})
        if response.status_code >= 500:
            failures.append((method, rule, response.status_code))
    assert not failures, "\n".join(map(str, failures))


def test_a_huge_id_in_a_path_is_a_plain_not_found_page(app):
    _world(app)
    web = signed_in(app, "alice@acme.example.com")
    response = web.get(f"/jobs/{HUGE}")
    assert response.status_code == 404
    assert "does not exist" in response.get_data(as_text=True)
