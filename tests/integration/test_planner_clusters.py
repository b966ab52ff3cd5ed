"""Planner → Clusters: figures, sorting and filtering, edits, merges, moves, deletes and access."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from app import tenancy
from app.errors import ValidationError
from app.extensions import db
from app.models import Cluster, Idea, Keyword
from app.services.planner import clusters as cluster_service
from tests.conftest import make_account
from tests.integration.helpers import add_member, add_site, signed_in, two_accounts

LIST = "/planner/clusters"


def _seed(app, accounts) -> dict:
    """Account A's first sector (the active one) gets four clusters; its second sector gets one."""
    a = accounts["a"]
    sector, other_sector = a["sectors"]
    ids: dict = {"keywords": {}}
    with app.app_context(), tenancy.account_scope(a["account"]):
        def cluster(name, sector_id=sector, **fields):
            row = Cluster(site_id=a["site"], sector_id=sector_id, name=name, **fields)
            db.session.add(row)
            db.session.flush()
            return row

        def keyword(text, owner, volume, difficulty, sector_id=sector, intent=None):
            row = Keyword(site_id=a["site"], sector_id=sector_id, keyword=text, normalized=text.lower(),
                          volume=volume, difficulty=difficulty, intent=intent,
                          cluster_id=owner.id if owner else None)
            db.session.add(row)
            db.session.flush()
            ids["keywords"][text] = row.id

        def idea(title, owner, sector_id=sector):
            db.session.add(Idea(site_id=a["site"], sector_id=sector_id, cluster_id=owner.id, title=title))

        espresso = cluster("Espresso basics", description="Pulling shots at home", intent="informational")
        grinders = cluster("Coffee grinders", intent="commercial")
        beans = cluster("Buying beans", intent="transactional")
        empty = cluster("Empty topic")
        tea = cluster("Green tea", sector_id=other_sector)
        keyword("espresso shot", espresso, 1000, 30, intent="informational")
        keyword("espresso ratio", espresso, 500, 20)
        keyword("espresso crema", espresso, None, None)
        keyword("burr grinder", grinders, 3000, 60)
        keyword("blade grinder", grinders, 200, 40)
        keyword("buy coffee beans", beans, 800, 70)
        keyword("cold brew", None, 400, 10)
        keyword("matcha", tea, 100, 5, sector_id=other_sector)
        idea("How to pull a perfect shot", espresso)
        idea("Espresso ratios explained", espresso)
        idea("Best burr grinders", grinders)
        idea("Tea for beginners", tea, sector_id=other_sector)
        db.session.commit()
        ids.update(espresso=espresso.id, grinders=grinders.id, beans=beans.id, empty=empty.id, tea=tea.id)
        db.session.remove()
    return ids


@pytest.fixture
def world(app):
    accounts = two_accounts(app)
    ids = _seed(app, accounts)
    web = signed_in(app, accounts["a"]["email"])
    return accounts, ids, web


def _post(web, path, data):
    return web.post(path, data, token_from=LIST)


@contextmanager
def _in_a(app, accounts):
    """Look at the database as account A."""
    with app.app_context(), tenancy.account_scope(accounts["a"]["account"]):
        try:
            yield db.session
        finally:
            db.session.remove()


def _row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr id="cluster-(\d+)"', html)]


def _row_html(html: str, cluster_id: int) -> str:
    match = re.search(rf'<tr id="cluster-{cluster_id}">(.*?)</tr>', html, re.S)
    assert match, f"cluster {cluster_id} not listed"
    return match.group(1)


def _cell(row: str, name: str) -> str:
    match = re.search(rf"<td class=\"num[^\"]*\" data-{name}>\s*(.*?)\s*</td>", row, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_list_shows_keyword_count_volume_difficulty_intent_and_ideas(app, world):
    accounts, ids, web = world
    response = web.get(LIST)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    espresso = _row_html(html, ids["espresso"])
    assert "Espresso basics" in espresso and "Pulling shots at home" in espresso and "Informational" in espresso
    assert (_cell(espresso, "keywords"), _cell(espresso, "volume"), _cell(espresso, "difficulty"),
            _cell(espresso, "ideas")) == ("3", "1,500", "25", "2")
    grinders = _row_html(html, ids["grinders"])
    assert (_cell(grinders, "keywords"), _cell(grinders, "volume"), _cell(grinders, "difficulty"),
            _cell(grinders, "ideas")) == ("2", "3,200", "50", "1")
    empty = _row_html(html, ids["empty"])
    assert (_cell(empty, "keywords"), _cell(empty, "volume"), _cell(empty, "difficulty"),
            _cell(empty, "ideas")) == ("0", "0", "—", "0")
    # Another sector's clusters stay out of the active sector's list.
    assert "Green tea" not in html and ids["tea"] not in _row_ids(html)
    # Bulk actions hand the selected clusters to idea generation.
    assert 'formaction="/planner/ideas/generate/estimate"' in html and 'name="cluster_ids"' in html


def test_service_figures_match_the_page(app, world):
    accounts, ids, _web = world
    with _in_a(app, accounts):
        rows, total = cluster_service.list_clusters(sector_id=accounts["a"]["sectors"][0], sort="keywords")
        assert total == 4
        assert [(r.cluster.id, r.keyword_count, r.total_volume, r.avg_difficulty, r.ideas_count) for r in rows] == [
            (ids["espresso"], 3, 1500, 25.0, 2), (ids["grinders"], 2, 3200, 50.0, 1),
            (ids["beans"], 1, 800, 70.0, 0), (ids["empty"], 0, 0, None, 0)]


def test_figures_stay_exact_through_moves_edits_deletes_and_merges(app, world):
    """The list reads each cluster's stored figures (kept by database triggers); after every kind of
    change they equal a fresh count over the keywords and ideas."""
    from app.services.planner import ideas as idea_service, keywords as keyword_service

    accounts, ids, web = world
    kw, sector, other_sector = ids["keywords"], *accounts["a"]["sectors"]
    assert _post(web, f"{LIST}/{ids['espresso']}/keywords/move",
                 {"keyword_ids": [kw["espresso shot"]], "to_cluster_id": ids["grinders"]}).status_code == 302
    with _in_a(app, accounts) as session:
        keyword_service.update_field(kw["burr grinder"], "volume", "2500")
        keyword_service.update_field(kw["blade grinder"], "difficulty", "")
        keyword_service.update_field(kw["cold brew"], "volume", "999")  # unclustered: no cluster changes
        keyword_service.delete_keywords([kw["buy coffee beans"]])
        keyword_service.move_to_sector([kw["espresso ratio"]], from_sector_id=sector, to_sector_id=other_sector)
        idea_service.delete_ideas(ids=[session.scalars(select(Idea.id).where(Idea.title == "Best burr grinders")).one()])
        session.commit()
    assert _post(web, f"{LIST}/merge", {"cluster_ids": [ids["espresso"], ids["beans"]],
                                       "target_id": ids["espresso"]}).status_code == 302
    with _in_a(app, accounts):
        rows, _total = cluster_service.list_clusters(sector_id=sector, sort="name")
        stored = {r.cluster.id: (r.keyword_count, r.total_volume, r.avg_difficulty, r.ideas_count) for r in rows}
        counted = cluster_service._figures_for(sector, list(stored))
        assert stored == {i: (f[0], f[1], float(f[2]) if f[2] is not None else None, f[3])
                          for i, f in counted.items()}
        assert stored[ids["grinders"]] == (3, 3700, 45.0, 0)  # burr 2500 + blade 200 + shot 1000; 60 and 30
        assert stored[ids["espresso"]] == (1, 0, None, 2)  # crema only; the ratio left for another sector
    page = web.get(f"{LIST}?sort=volume").get_data(as_text=True)
    assert _cell(_row_html(page, ids["grinders"]), "volume") == "3,700"
    keyword_page = web.get("/planner/keywords?sort=keyword&direction=asc").get_data(as_text=True)
    assert keyword_page.count("Coffee grinders") >= 3 and "Espresso basics" in keyword_page  # cluster column


@pytest.mark.parametrize("query,expected", [
    ("sort=volume&dir=desc", ["grinders", "espresso", "beans", "empty"]),
    ("sort=volume&dir=asc", ["empty", "beans", "espresso", "grinders"]),
    ("sort=name&dir=asc", ["beans", "grinders", "empty", "espresso"]),
    ("sort=difficulty&dir=asc", ["espresso", "grinders", "beans", "empty"]),
    ("sort=ideas&dir=desc", ["espresso", "grinders", "empty", "beans"]),
    ("sort=keywords&dir=desc", ["espresso", "grinders", "beans", "empty"]),
    ("sort=created&dir=asc", ["espresso", "grinders", "beans", "empty"]),
    ("q=GRIND", ["grinders"]),
    ("q=shots", ["espresso"]),
    ("intent=commercial", ["grinders"]),
    ("intent=none", ["empty"]),
    ("q=tea", []),
])
def test_list_sorts_and_filters(app, world, query, expected):
    _accounts, ids, web = world
    html = web.get(f"{LIST}?{query}").get_data(as_text=True)
    assert _row_ids(html) == [ids[name] for name in expected]
    if not expected:
        assert "No clusters match" in html


def test_list_pages_and_htmx_gets_only_the_table_region(app, world):
    _accounts, _ids, web = world
    response = web.get(f"{LIST}?sort=name&dir=asc", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert html.lstrip().startswith('<div id="clusters-table"') and "<html" not in html
    assert 'hx-push-url="true"' in html
    # The sorted column's link reverses the order.
    assert "sort=name&amp;dir=desc" in html


def test_list_paginates(app, world):
    accounts, ids, web = world
    a = accounts["a"]
    with _in_a(app, accounts) as session:
        for n in range(55):
            session.add(Cluster(site_id=a["site"], sector_id=a["sectors"][0], name=f"Extra {n:02d}"))
        session.commit()
    first = web.get(f"{LIST}?sort=name&dir=asc").get_data(as_text=True)
    second = web.get(f"{LIST}?sort=name&dir=asc&page=2").get_data(as_text=True)
    assert len(_row_ids(first)) == 50 and len(_row_ids(second)) == 9
    assert not set(_row_ids(first)) & set(_row_ids(second))
    assert "Page 1 of 2" in first and "of 59 clusters" in first


def test_detail_shows_figures_keywords_ideas_and_move_choices(app, world):
    _accounts, ids, web = world
    response = web.get(f"{LIST}/{ids['espresso']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Espresso basics" in html and "Pulling shots at home" in html
    assert 'data-stat="volume">1,500' in html and 'data-stat="difficulty">25' in html
    for text in ("espresso shot", "espresso ratio", "espresso crema", "How to pull a perfect shot",
                 "Espresso ratios explained"):
        assert text in html
    assert "burr grinder" not in html
    move_menu = html[html.index('name="to_cluster_id"'):html.index("</select>", html.index('name="to_cluster_id"'))]
    assert "Coffee grinders" in move_menu and "Unclustered" in move_menu
    assert "Green tea" not in move_menu and "Espresso basics" not in move_menu
    sorted_page = web.get(f"{LIST}/{ids['espresso']}?sort=volume&dir=asc", headers={"HX-Request": "true"})
    body = sorted_page.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="cluster-keywords"')
    assert body.index("espresso ratio") < body.index("espresso shot") < body.index("espresso crema")


def test_rename_saves_and_an_empty_name_is_rejected(app, world):
    accounts, ids, web = world
    path = f"{LIST}/{ids['espresso']}/rename"
    response = _post(web, path, {"name": "   ", "description": "Changed"})
    assert response.status_code == 422
    assert "Give the cluster a name." in response.get_data(as_text=True)
    with _in_a(app, accounts) as session:
        cluster = session.get(Cluster, ids["espresso"])
        assert (cluster.name, cluster.description) == ("Espresso basics", "Pulling shots at home")
    response = _post(web, path, {"name": "  Home   espresso ", "description": "Shots, ratios and crema."})
    assert response.status_code == 302
    with _in_a(app, accounts) as session:
        cluster = session.get(Cluster, ids["espresso"])
        assert (cluster.name, cluster.description) == ("Home espresso", "Shots, ratios and crema.")
    with _in_a(app, accounts), pytest.raises(ValidationError) as caught:
        cluster_service.rename(cluster_id=ids["espresso"], name="x" * 201, description="")
    assert caught.value.field == "name"


def test_set_intent_and_refuse_an_unknown_one(app, world):
    accounts, ids, web = world
    path = f"{LIST}/{ids['empty']}/intent"
    assert _post(web, path, {"intent": "navigational"}).status_code == 302
    assert _post(web, path, {"intent": "curious"}).status_code == 422
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["empty"]).intent == "navigational"
    assert _post(web, path, {"intent": ""}).status_code == 302
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["empty"]).intent is None


def test_merge_moves_keywords_and_ideas_and_deletes_the_sources(app, world):
    accounts, ids, web = world
    chosen = [ids["grinders"], ids["espresso"], ids["beans"]]
    chooser = _post(web, f"{LIST}/merge", {"cluster_ids": chosen})
    page = chooser.get_data(as_text=True)
    assert chooser.status_code == 200 and "Keep which cluster?" in page
    assert all(f'name="target_id" id="target-{i}"' in page for i in chosen)
    response = _post(web, f"{LIST}/merge", {"cluster_ids": chosen, "target_id": ids["espresso"]})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{LIST}/{ids['espresso']}")
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["grinders"]) is None and session.get(Cluster, ids["beans"]) is None
        names = set(session.scalars(select(Keyword.keyword).where(Keyword.cluster_id == ids["espresso"])))
        assert names == {"espresso shot", "espresso ratio", "espresso crema", "burr grinder", "blade grinder",
                         "buy coffee beans"}
        assert len(session.scalars(select(Idea).where(Idea.cluster_id == ids["espresso"])).all()) == 3
        assert session.scalar(select(Keyword.cluster_id).where(Keyword.keyword == "cold brew")) is None
    html = web.get(f"{LIST}/{ids['espresso']}").get_data(as_text=True)
    assert "Merged 2 clusters" in html and 'data-stat="keywords">6' in html


def test_merge_across_sectors_is_refused_and_changes_nothing(app, world):
    accounts, ids, web = world
    response = _post(web, f"{LIST}/merge", {"cluster_ids": [ids["espresso"], ids["tea"]],
                                           "target_id": ids["espresso"]})
    assert response.status_code == 302
    assert "only be merged within one sector" in web.get(response.headers["Location"]).get_data(as_text=True)
    response = _post(web, f"{LIST}/merge", {"cluster_ids": [ids["espresso"], ids["tea"]]})
    assert "only be merged within one sector" in web.get(response.headers["Location"]).get_data(as_text=True)
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["tea"]) is not None
        assert session.scalar(select(Keyword.cluster_id).where(Keyword.keyword == "matcha")) == ids["tea"]
        # The service refuses it too, whoever calls it.
        with pytest.raises(ValidationError, match="one sector"):
            cluster_service.merge(target_id=ids["espresso"], source_ids=[ids["tea"]])
        with pytest.raises(ValidationError, match="cannot also be"):
            cluster_service.merge(target_id=ids["espresso"], source_ids=[ids["espresso"], ids["beans"]])
        assert session.get(Cluster, ids["beans"]) is not None


def test_merge_needs_two_clusters(app, world):
    _accounts, ids, web = world
    response = _post(web, f"{LIST}/merge", {"cluster_ids": [ids["espresso"]]})
    assert "Select at least two clusters" in web.get(response.headers["Location"]).get_data(as_text=True)


def test_move_keywords_to_another_cluster_and_to_unclustered(app, world):
    accounts, ids, web = world
    kw = ids["keywords"]
    path = f"{LIST}/{ids['espresso']}/keywords/move"
    response = _post(web, path, {"keyword_ids": [kw["espresso shot"], kw["espresso ratio"]],
                                 "to_cluster_id": ids["grinders"]})
    assert response.status_code == 302
    with _in_a(app, accounts) as session:
        assert session.get(Keyword, kw["espresso shot"]).cluster_id == ids["grinders"]
        assert session.get(Keyword, kw["espresso ratio"]).cluster_id == ids["grinders"]
        assert session.get(Keyword, kw["espresso crema"]).cluster_id == ids["espresso"]
    assert _post(web, path, {"keyword_ids": [kw["espresso crema"]], "to_cluster_id": "unclustered"}).status_code == 302
    with _in_a(app, accounts) as session:
        assert session.get(Keyword, kw["espresso crema"]).cluster_id is None
    page = web.get(f"{LIST}/{ids['grinders']}").get_data(as_text=True)
    assert 'data-stat="keywords">4' in page


def test_move_keywords_to_a_cluster_of_another_sector_is_refused(app, world):
    accounts, ids, web = world
    kw = ids["keywords"]
    response = _post(web, f"{LIST}/{ids['espresso']}/keywords/move",
                     {"keyword_ids": [kw["espresso shot"]], "to_cluster_id": ids["tea"]})
    assert "cluster of their own sector" in web.get(response.headers["Location"]).get_data(as_text=True)
    response = _post(web, f"{LIST}/{ids['espresso']}/keywords/move",
                     {"keyword_ids": [kw["espresso shot"], kw["matcha"]], "to_cluster_id": "unclustered"})
    assert "within one sector" in web.get(response.headers["Location"]).get_data(as_text=True)
    with _in_a(app, accounts) as session:
        assert session.get(Keyword, kw["espresso shot"]).cluster_id == ids["espresso"]
        assert session.get(Keyword, kw["matcha"]).cluster_id == ids["tea"]


def test_delete_returns_keywords_to_unclustered_and_keeps_ideas(app, world):
    accounts, ids, web = world
    response = _post(web, f"{LIST}/delete", {"cluster_ids": [ids["grinders"], ids["beans"]],
                                            "next": f"{LIST}?sort=name"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{LIST}?sort=name")
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["grinders"]) is None and session.get(Cluster, ids["beans"]) is None
        for text in ("burr grinder", "blade grinder", "buy coffee beans"):
            assert session.get(Keyword, ids["keywords"][text]).cluster_id is None
        idea = session.scalars(select(Idea).where(Idea.title == "Best burr grinders")).one()
        assert idea.cluster_id is None
        assert session.get(Cluster, ids["espresso"]) is not None
    assert _post(web, f"{LIST}/{ids['espresso']}/delete", {}).status_code == 302
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["espresso"]) is None
        assert session.get(Keyword, ids["keywords"]["espresso shot"]).cluster_id is None


def test_bulk_delete_refuses_clusters_of_another_sector(app, world):
    accounts, ids, web = world
    response = _post(web, f"{LIST}/delete", {"cluster_ids": [ids["tea"]]})
    assert "active sector" in web.get(response.headers["Location"]).get_data(as_text=True)
    with _in_a(app, accounts) as session:
        assert session.get(Cluster, ids["tea"]) is not None


def _changes(ids):
    kw = ids["keywords"]
    return [
        (f"{LIST}/{ids['espresso']}/rename", {"name": "Taken", "description": ""}),
        (f"{LIST}/{ids['espresso']}/intent", {"intent": "navigational"}),
        (f"{LIST}/{ids['espresso']}/keywords/move", {"keyword_ids": [kw["espresso shot"]],
                                                     "to_cluster_id": "unclustered"}),
        (f"{LIST}/{ids['espresso']}/delete", {}),
        (f"{LIST}/delete", {"cluster_ids": [ids["espresso"]]}),
        (f"{LIST}/merge", {"cluster_ids": [ids["espresso"], ids["beans"]], "target_id": ids["espresso"]}),
        (f"{LIST}/merge", {"cluster_ids": [ids["espresso"], ids["beans"]]}),
    ]


def _assert_untouched(app, accounts, ids):
    with _in_a(app, accounts) as session:
        cluster = session.get(Cluster, ids["espresso"])
        assert cluster is not None and cluster.name == "Espresso basics" and cluster.intent == "informational"
        assert session.get(Cluster, ids["beans"]) is not None
        assert session.get(Keyword, ids["keywords"]["espresso shot"]).cluster_id == ids["espresso"]


def test_viewer_reads_but_every_change_answers_403(app, world):
    accounts, ids, _web = world
    add_member(app, accounts["a"]["account"], email="vera@acme.example.com", role="viewer",
               site_ids=[accounts["a"]["site"]])
    viewer = signed_in(app, "vera@acme.example.com")
    page = viewer.get(LIST).get_data(as_text=True)
    assert "Espresso basics" in page and 'name="cluster_ids"' not in page and "Merge into one" not in page
    detail = viewer.get(f"{LIST}/{ids['espresso']}").get_data(as_text=True)
    assert "espresso shot" in detail and "Delete cluster" not in detail and 'name="to_cluster_id"' not in detail
    for path, data in _changes(ids):
        assert _post(viewer, path, data).status_code == 403, path
    _assert_untouched(app, accounts, ids)


def test_another_accounts_clusters_answer_404(app, world):
    accounts, ids, _web = world
    intruder = signed_in(app, accounts["b"]["email"])
    assert intruder.get(f"{LIST}/{ids['espresso']}").status_code == 404
    assert "Espresso" not in intruder.get(LIST).get_data(as_text=True)
    for path, data in _changes(ids):
        response = _post(intruder, path, data)
        assert response.status_code == 404, path
        assert "Espresso" not in response.get_data(as_text=True)
    _assert_untouched(app, accounts, ids)


def test_empty_states_say_what_to_do_next(app):
    make_account(app, email="nosite@example.com", account_name="No Site Co")
    page = signed_in(app, "nosite@example.com").get(LIST).get_data(as_text=True)
    assert "Add a site first" in page and 'href="/sites/new"' in page
    account, _owner = make_account(app, email="fresh@example.com", account_name="Fresh Co")
    add_site(app, account, "Fresh Blog", ("Baking",))
    page = signed_in(app, "fresh@example.com").get(LIST).get_data(as_text=True)
    assert "No clusters yet" in page and "run clustering" in page and 'href="/planner/keywords"' in page


def test_missing_cluster_answers_404(app, world):
    _accounts, _ids, web = world
    assert web.get(f"{LIST}/999999").status_code == 404
