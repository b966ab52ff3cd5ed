"""Spending credits is idempotent on the server: the same confirm form sent twice (a double click, a resent
request) makes one job, one reservation and one set of results."""

from __future__ import annotations

import re
import threading
import time

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import CreditReservation, Job
from tests.integration.ai_support import EMAIL, ledger, run_worker, setup_account
from tests.integration.helpers import add_site, signed_in
from tests.integration.test_planner_clustering import KEYWORDS, add_keywords
from tests.integration.test_planner_ideas import build_world, ideas_in_db

TOKEN_RE = re.compile(r'name="submit_token" value="([^"]+)"')
IDEAS = "/planner/ideas"


def token_on(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "the confirm form carries no one-time token"
    return match.group(1)


def jobs_and_reservations(app, account_id: int) -> tuple[list[int], list[tuple[int, int | None]]]:
    with app.app_context(), tenancy.account_scope(account_id):
        jobs = list(db.session.scalars(select(Job.id).order_by(Job.id)))
        reservations = [(r.amount, r.job_id) for r in db.session.scalars(select(CreditReservation))]
        db.session.remove()
    return jobs, reservations


def run_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def ideas_form(app):
    ids = setup_account(app)
    world = {**build_world(app, ids["account"]), **ids}
    web = signed_in(app, EMAIL)
    form = {"cluster_ids": [world["espresso"]], "per_cluster": "3", "tier": "testing"}
    page = web.post(f"{IDEAS}/generate/estimate", form, token_from=IDEAS, follow_redirects=True)
    assert page.status_code == 200
    return world, web, {**form, "submit_token": token_on(page.get_data(as_text=True))}


def test_two_clicks_on_confirm_and_generate_make_one_run_one_charge_and_three_ideas(app):
    world, web, form = ideas_form(app)

    first = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)
    time.sleep(0.25)
    second = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)

    assert run_id(first) == run_id(second)  # the second click shows the same run
    run_worker(app)
    third = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)  # resent after the run finished
    assert run_id(third) == run_id(first)
    run_worker(app)

    jobs, reservations = jobs_and_reservations(app, world["account"])
    assert jobs == [run_id(first)] and len(reservations) == 1
    assert len(ideas_in_db(app, world["account"])) == 3
    books = ledger(app, world["account"])
    assert books["balance"] == books["ledger"] == world["start"] - reservations[0][0] + (
        reservations[0][0] - books["usage"][0][0])
    assert len(books["usage"]) == 1


def test_simultaneous_submits_of_one_form_make_one_run(app):
    world, web, form = ideas_form(app)
    clients = [signed_in(app, EMAIL) for _ in range(3)]
    answers: list = []

    def submit(client):
        answers.append(client.post(f"{IDEAS}/generate", form, token_from=IDEAS))

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len({run_id(a) for a in answers}) == 1
    jobs, reservations = jobs_and_reservations(app, world["account"])
    assert len(jobs) == 1 and len(reservations) == 1
    run_worker(app)
    assert len(ideas_in_db(app, world["account"])) == 3


def test_a_form_without_a_token_still_starts_identical_work_only_once_at_a_time(app):
    world, web, form = ideas_form(app)
    form.pop("submit_token")

    first, second = (web.post(f"{IDEAS}/generate", form, token_from=IDEAS) for _ in range(2))
    assert run_id(first) == run_id(second)
    run_worker(app)
    assert len(ideas_in_db(app, world["account"])) == 3

    # Once the first run has finished, asking again on purpose is a new run.
    again = web.post(f"{IDEAS}/generate", form, token_from=IDEAS)
    assert run_id(again) != run_id(first)
    jobs, reservations = jobs_and_reservations(app, world["account"])
    assert len(jobs) == 2 and len(reservations) == 2


def test_two_submits_of_the_clustering_form_make_one_run_and_one_charge(app):
    ids = setup_account(app)
    site, sectors = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    add_keywords(app, {**ids, "site": site, "sector": sectors[0]}, KEYWORDS)
    web = signed_in(app, EMAIL)
    page = web.get("/planner/keywords/cluster?scope=unclustered").get_data(as_text=True)
    form = {"scope": "unclustered", "mode": "semantic", "tightness": "50", "join_existing": "1", "tier": "testing",
            "submit_token": token_on(page)}

    first = web.post("/planner/keywords/cluster", form, token_from="/planner/keywords/cluster?scope=unclustered")
    time.sleep(0.25)
    second = web.post("/planner/keywords/cluster", form, token_from="/planner/keywords/cluster?scope=unclustered")

    assert run_id(first) == run_id(second)
    run_worker(app)
    jobs, reservations = jobs_and_reservations(app, ids["account"])
    assert len(jobs) == 1 and len(reservations) == 1
    books = ledger(app, ids["account"])
    assert len(books["usage"]) == 1 and books["balance"] == books["ledger"] == ids["start"] - books["usage"][0][0]


def test_two_submits_of_the_cluster_naming_try_page_make_one_run(app):
    ids = setup_account(app)
    web = signed_in(app, EMAIL)
    form = {"groups": "french press, cafetiere\ncoffee grinder, burr grinder", "tier": "testing"}
    page = web.post("/thinker/try/cluster-naming/estimate", form, token_from="/thinker/try/cluster-naming",
                    follow_redirects=True)
    assert page.status_code == 200
    form["submit_token"] = token_on(page.get_data(as_text=True))

    first = web.post("/thinker/try/cluster-naming/run", form, token_from="/thinker/try/cluster-naming")
    time.sleep(0.25)
    second = web.post("/thinker/try/cluster-naming/run", form, token_from="/thinker/try/cluster-naming")

    assert run_id(first) == run_id(second)
    run_worker(app)
    jobs, reservations = jobs_and_reservations(app, ids["account"])
    assert len(jobs) == 1 and len(reservations) == 1
    assert len(ledger(app, ids["account"])["usage"]) == 1


def test_each_confirm_form_gets_its_own_token(app):
    world, web, form = ideas_form(app)
    again = web.post(f"{IDEAS}/generate/estimate", {k: v for k, v in form.items() if k != "submit_token"},
                     token_from=IDEAS, follow_redirects=True)
    assert token_on(again.get_data(as_text=True)) != form["submit_token"]
