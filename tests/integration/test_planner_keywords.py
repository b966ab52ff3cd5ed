"""Planner → Keywords: typing, the library, importing files, the table, bulk actions, inline edits, export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import Keyword, KeywordImport, Sector, SeedKeyword
from tests.integration.ai_support import run_worker
from tests.integration.helpers import add_member, signed_in, two_accounts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def acct(app):
    accounts = two_accounts(app)
    return accounts


def keywords_of(app, sector_id: int) -> dict[str, Keyword]:
    with app.app_context(), tenancy.all_accounts():
        rows = {k.normalized: k for k in db.session.scalars(select(Keyword).where(Keyword.sector_id == sector_id))}
        for k in rows.values():
            db.session.expunge(k)
        db.session.remove()
    return rows


def seed_keywords(app, account_id: int, sector_id: int, count: int, **values) -> None:
    with app.app_context(), tenancy.account_scope(account_id):
        sector = db.session.get(Sector, sector_id)
        db.session.add_all([Keyword(account_id=account_id, site_id=sector.site_id, sector_id=sector_id,
                                    keyword=f"keyword {i:05d}", normalized=f"keyword {i:05d}",
                                    volume=i * 10, difficulty=i % 101, **values) for i in range(count)])
        db.session.commit()
        db.session.remove()


def upload(web, path: str, data: bytes, filename: str):
    return web.post(path, {"file": (io.BytesIO(data), filename)}, token_from="/planner/keywords/import",
                    content_type="multipart/form-data")


def import_id_from(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_planner_home_is_the_keyword_page_with_an_empty_state(app, acct):
    web = signed_in(app, acct["a"]["email"])
    home = web.get("/planner/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/planner/keywords")
    page = web.get("/planner/keywords").get_data(as_text=True)
    assert "No keywords in Espresso yet" in page and "Import keywords" in page


def test_typed_keywords_are_normalised_and_deduplicated(app, acct):
    web = signed_in(app, acct["a"]["email"])
    sector = acct["a"]["sectors"][0]
    response = web.post("/planner/keywords/add",
                        {"keywords": "French Press\nfrench   press\n  Café au lait \nCAFE\u0301 AU LAIT\n\n"},
                        token_from="/planner/keywords/add")
    assert response.status_code == 302
    stored = keywords_of(app, sector)
    assert sorted(k.keyword for k in stored.values()) == ["Café au lait", "French Press"]
    again = web.post("/planner/keywords/add", {"keywords": "french press\nmoka pot"},
                     token_from="/planner/keywords/add", follow_redirects=True)
    assert "Added 1 keyword, 1 already in this sector" in again.get_data(as_text=True)
    empty = web.post("/planner/keywords/add", {"keywords": "   \n  "}, token_from="/planner/keywords/add")
    assert empty.status_code == 422 and "Type at least one keyword" in empty.get_data(as_text=True)


def test_library_marks_added_keywords_and_adds_metrics(app, reference):
    from app.models import IndustrySector
    from tests.conftest import make_account

    account, _ = make_account(app, email="lib@acme.example.com")
    with app.app_context():
        industry_sector = db.session.scalars(select(IndustrySector).order_by(IndustrySector.id)).first()
        seeds = list(db.session.scalars(select(SeedKeyword).where(
            SeedKeyword.industry_sector_id == industry_sector.id).order_by(SeedKeyword.volume.desc()).limit(2)))
        seed_ids, seed_words = [s.id for s in seeds], [s.keyword for s in seeds]
        template_id, industry_id = industry_sector.id, industry_sector.industry_id
    with app.app_context(), tenancy.account_scope(account):
        from app.services.accounts.sites import create_site

        create_site(name="Lib Site", url="https://lib.example.com", timezone="UTC", industry_id=industry_id,
                    sector_template_ids=[template_id], sector_names=[])
        db.session.remove()
    web = signed_in(app, "lib@acme.example.com")
    page = web.get("/planner/keywords/library").get_data(as_text=True)
    assert seed_words[0] in page and "added</span>" not in page
    web.post("/planner/keywords/library/add", {"seed_ids": [str(seed_ids[0])]}, token_from="/planner/keywords/library")
    page = web.get("/planner/keywords/library").get_data(as_text=True)
    assert page.count(">added</span>") == 1
    hidden = web.get("/planner/keywords/library?hide_added=1").get_data(as_text=True)
    assert seed_words[0] not in hidden and seed_words[1] in hidden


def test_semrush_import_previews_then_imports_with_a_report(app, acct):
    web = signed_in(app, acct["a"]["email"])
    data = (b"Keyword,Intent,Volume,Keyword Difficulty,CPC (USD)\n"
            b"french press,Informational,\"12,100\",45,1.20\n"
            b"French  Press,Informational,100,40,1.00\n"
            b"cafetiere,Commercial,5400,38,0.80\n"
            b",Informational,10,10,0.1\n"
            b"moka pot,Informational,abc,30,0.5\n")
    imp = import_id_from(upload(web, "/planner/keywords/import", data, "semrush.csv"))
    preview = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert "french press" in preview and "12,100" in preview and "Import keywords" in preview
    assert keywords_of(app, acct["a"]["sectors"][0]) == {}  # nothing before confirming

    # Editing the mapping re-renders the preview; dropping the keyword column is refused.
    bad = web.post(f"/planner/keywords/imports/{imp}/preview", {"map_keyword": "", "map_volume": "2"},
                   token_from=f"/planner/keywords/imports/{imp}")
    assert "Choose which column holds the keywords" in bad.get_data(as_text=True)

    mapping = {"map_keyword": "0", "map_intent": "1", "map_volume": "2", "map_difficulty": "3", "map_cpc": "4"}
    started = web.post(f"/planner/keywords/imports/{imp}/start", mapping, token_from=f"/planner/keywords/imports/{imp}")
    assert started.status_code == 302
    report = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert 'data-testid="report-imported">2<' in report
    assert 'data-testid="report-duplicates">1<' in report
    assert 'data-testid="report-rejected">2<' in report
    stored = keywords_of(app, acct["a"]["sectors"][0])
    assert stored["french press"].volume == 12100 and str(stored["french press"].cpc) == "1.20"
    assert stored["cafetiere"].intent == "commercial" and stored["cafetiere"].cpc_currency == "USD"
    rejected = web.get(f"/planner/keywords/imports/{imp}/rejected.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(rejected.lstrip("\ufeff"))))
    assert rows[0] == ["Line", "Reason"] and {r[0] for r in rows[1:]} == {"5", "6"}

    # A second click on Import changes nothing.
    again = web.post(f"/planner/keywords/imports/{imp}/start", mapping, token_from=f"/planner/keywords/imports/{imp}",
                     follow_redirects=True)
    assert "already being imported or was imported" in again.get_data(as_text=True)
    assert len(keywords_of(app, acct["a"]["sectors"][0])) == 2


def test_german_export_maps_itself_and_preview_warns_when_volume_is_left_unmapped(app, acct):
    web = signed_in(app, acct["a"]["email"])
    data = ("Suchbegriff;Suchvolumen;Keyword-Schwierigkeit\n"
            "kaffeemühle;12000;45\nsiebträger;5400;38\n").encode("utf-8")
    imp = import_id_from(upload(web, "/planner/keywords/import", data, "sistrix.csv"))
    page = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert "kaffeemühle" in page and "12,000" in page
    assert 'data-testid="import-warning"' not in page  # Suchvolumen was recognised as the volume

    unmapped = web.post(f"/planner/keywords/imports/{imp}/preview",
                        {"map_keyword": "0", "map_volume": "", "map_difficulty": "2"},
                        token_from=f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert 'data-testid="import-warning"' in unmapped
    assert "Column “Suchvolumen” holds numbers that look like search volumes but is not imported" in unmapped


@pytest.mark.parametrize("data,filename,message", [
    (b"", "empty.csv", "empty"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4, "export.xlsx", "Export or save it as CSV"),
    (bytes(range(256)) * 8, "random.bin", "binary file"),
    (b"Volume,Difficulty\n100,20\n200,30\n", "numbers.csv", "No keyword column"),
])
def test_bad_files_get_a_clear_message_and_change_nothing(app, acct, data, filename, message):
    web = signed_in(app, acct["a"]["email"])
    response = upload(web, "/planner/keywords/import", data, filename)
    html = response.get_data(as_text=True)
    if response.status_code == 302:  # a file with no keyword column opens the mapping with a warning
        page = web.get(response.headers["Location"]).get_data(as_text=True)
        assert message in page
    else:
        assert response.status_code == 422 and message in html
    assert keywords_of(app, acct["a"]["sectors"][0]) == {}


def test_a_file_over_the_limit_is_refused_with_its_size(app, acct):
    web = signed_in(app, acct["a"]["email"])
    big = b"keyword\n" + b"some long keyword phrase here\n" * (52 * 1024 * 1024 // 30)
    response = upload(web, "/planner/keywords/import", big, "huge.csv")
    html = response.get_data(as_text=True)
    assert response.status_code in (413, 422)
    assert "limit is 20 MB" in html
    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalar(select(func.count(KeywordImport.id))) == 0


def test_keyword_planner_utf16_export_imports_in_the_background_with_progress(app, acct, monkeypatch):
    from app.services.planner import imports

    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 10)  # make this small fixture count as a big file
    web = signed_in(app, acct["a"]["email"])
    fixture = next(p for p in sorted((FIXTURES / "imports").iterdir()) if "planner" in p.name.lower())
    imp = import_id_from(upload(web, "/planner/keywords/import", fixture.read_bytes(), fixture.name))
    preview = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert "title lines before the header" in preview
    started = web.post(f"/planner/keywords/imports/{imp}/start", {"map_keyword": "0", "map_volume": "2"},
                       token_from=f"/planner/keywords/imports/{imp}")
    assert started.status_code == 302
    running = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert 'role="progressbar"' in running
    run_worker(app)
    report = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert "Import report" in report
    stored = keywords_of(app, acct["a"]["sectors"][0])
    assert stored and all(k.source == "import" for k in stored.values())
    assert any(k.volume_text and "–" in k.volume_text for k in stored.values())


def test_big_imports_stream_in_all_or_nothing_and_count_keywords_already_there(app, acct, monkeypatch):
    """Rows go to the database while the file is parsed: a file that breaks late leaves nothing behind,
    and a file imported into a sector that has some of its keywords reports them as already there."""
    from app.services.planner import imports

    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 10**9)  # import these right away, not in a job
    monkeypatch.setattr(imports, "BACKGROUND_ROWS", 10**9)
    sector = acct["a"]["sectors"][0]
    web = signed_in(app, acct["a"]["email"])
    rows = [f"grinder model {i},{i + 10}\n" for i in range(30_000)]
    broken = ("Keyword,Volume\n" + "".join(rows) + "x" * 200_000 + ",5\n").encode()  # a runaway cell at the end
    imp = import_id_from(upload(web, "/planner/keywords/import", broken, "broken.csv"))
    web.post(f"/planner/keywords/imports/{imp}/start", {"map_keyword": "0", "map_volume": "1"},
             token_from=f"/planner/keywords/imports/{imp}")
    page = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert "The import failed" in page and "could not be read" in page
    assert keywords_of(app, sector) == {}

    seed_keywords(app, acct["a"]["account"], sector, 3)  # "keyword 00000" … "keyword 00002"
    good = ("Keyword,Volume\n" + "".join(rows) + "keyword 00001,7\nkeyword 00002,8\n").encode()
    imp = import_id_from(upload(web, "/planner/keywords/import", good, "good.csv"))
    web.post(f"/planner/keywords/imports/{imp}/start", {"map_keyword": "0", "map_volume": "1"},
             token_from=f"/planner/keywords/imports/{imp}")
    report = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    assert 'data-testid="report-imported">30,000<' in report or 'data-testid="report-imported">30000<' in report
    stored = keywords_of(app, sector)
    assert len(stored) == 30_003 and stored["grinder model 29999"].volume == 30_009
    assert stored["keyword 00001"].volume == 10  # the keyword already there keeps its figures
    found = web.get("/planner/keywords?q=model+2999&sort=keyword&direction=asc").get_data(as_text=True)
    assert "11 keywords match" in found and "grinder model 29999" in found


def test_table_filters_sorts_and_pages_on_the_server(app, acct):
    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 120)
    web = signed_in(app, acct["a"]["email"])
    page = web.get("/planner/keywords?sort=volume&direction=desc&per_page=25").get_data(as_text=True)
    assert 'data-testid="keyword-count">120 keywords' in page
    assert page.index("keyword 00119") < page.index("keyword 00118")
    assert "Page 1 of 5" in page
    fragment = web.get("/planner/keywords?q=keyword+0011&sort=keyword&direction=asc",
                       headers={"HX-Request": "true", "HX-Target": "keyword-table"}).get_data(as_text=True)
    assert "<html" not in fragment and "10 keywords match" in fragment
    filtered = web.get("/planner/keywords?volume_min=500&volume_max=600&difficulty_max=55").get_data(as_text=True)
    assert "6 keywords match" in filtered  # volumes 500–550 with difficulty 50–55
    nonsense = web.get("/planner/keywords?volume_min=abc&sort=evil&page=-3")
    assert nonsense.status_code == 200


@pytest.mark.parametrize("sort,direction", [("keyword", "asc"), ("keyword", "desc"), ("volume", "desc"),
                                             ("volume", "asc"), ("difficulty", "asc"), ("difficulty", "desc"),
                                             ("created", "desc"), ("created", "asc")])
def test_a_search_lists_its_matches_in_the_chosen_order(app, acct, sort, direction):
    import re

    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 130)
    web = signed_in(app, acct["a"]["email"])
    page = web.get(f"/planner/keywords?q=Keyword+001&sort={sort}&direction={direction}").get_data(as_text=True)
    shown = re.findall(r"<td>(keyword \d{5})</td>", page)
    matches = range(100, 130)  # "keyword 00100" … "keyword 00129"; volume i * 10, difficulty i % 101
    key = {"keyword": lambda i: i, "volume": lambda i: i * 10, "difficulty": lambda i: i % 101,
           "created": lambda i: i}[sort]
    expected = sorted(matches, key=lambda i: (key(i), i), reverse=direction == "desc")
    assert shown == [f"keyword {i:05d}" for i in expected]


def test_a_search_counts_its_matches_exactly_on_every_page_and_past_the_last(app, acct):
    import re

    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 130)
    web = signed_in(app, acct["a"]["email"])
    base = "/planner/keywords?q=keyword+000&sort=keyword&direction=asc&per_page=25"  # keyword 00000 … 00099
    for page_number, first in ((1, 0), (2, 25), (4, 75)):
        page = web.get(f"{base}&page={page_number}").get_data(as_text=True)
        assert 'data-testid="keyword-count">100 keywords match' in page
        assert f"Page {page_number} of 4" in page
        assert re.findall(r"<td>(keyword \d{5})</td>", page)[0] == f"keyword {first:05d}"
    past = web.get(f"{base}&page=9").get_data(as_text=True)  # past the end: the last page, same count
    assert 'data-testid="keyword-count">100 keywords match' in past and "Page 4 of 4" in past
    assert re.findall(r"<td>(keyword \d{5})</td>", past)[-1] == "keyword 00099"
    none = web.get("/planner/keywords?q=no+such+keyword&page=3").get_data(as_text=True)
    assert 'data-testid="keyword-count">0 keywords match' in none


def test_bulk_actions_apply_to_all_matching_rows_across_pages(app, acct):
    sector, other = acct["a"]["sectors"]
    seed_keywords(app, acct["a"]["account"], sector, 120)
    web = signed_in(app, acct["a"]["email"])
    archived = web.post("/planner/keywords/bulk", {"action": "archive", "all_matching": "1", "volume_min": "1000"},
                        token_from="/planner/keywords", follow_redirects=True)
    assert "Archived 20 keyword(s)" in archived.get_data(as_text=True)
    stored = keywords_of(app, sector)
    assert sum(k.status == "archived" for k in stored.values()) == 20
    ids = [str(k.id) for k in sorted(stored.values(), key=lambda k: k.id) if k.status == "active"][:3]
    web.post("/planner/keywords/bulk", {"action": "set_intent", "intent": "commercial", "ids": ids},
             token_from="/planner/keywords")
    assert sum(k.intent == "commercial" for k in keywords_of(app, sector).values()) == 3
    moved = web.post("/planner/keywords/bulk", {"action": "move", "sector_id": str(other), "ids": ids},
                     token_from="/planner/keywords", follow_redirects=True)
    assert "Moved 3 of 3" in moved.get_data(as_text=True)
    assert len(keywords_of(app, other)) == 3
    web.post("/planner/keywords/bulk", {"action": "delete", "all_matching": "1", "status": "archived"},
             token_from="/planner/keywords")
    assert len(keywords_of(app, sector)) == 97
    nothing = web.post("/planner/keywords/bulk", {"action": "delete"}, token_from="/planner/keywords",
                       follow_redirects=True)
    assert "Select at least one keyword first" in nothing.get_data(as_text=True)


def test_inline_edit_validates_each_cell(app, acct):
    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 2)
    stored = keywords_of(app, sector)
    first = stored["keyword 00000"].id
    web = signed_in(app, acct["a"]["email"])
    form = web.get(f"/planner/keywords/{first}/edit").get_data(as_text=True)
    assert 'name="volume"' in form
    bad = web.post(f"/planner/keywords/{first}/edit", {"keyword": "keyword 00001", "volume": "lots",
                                                       "difficulty": "140", "cpc": "", "intent": ""},
                   token_from="/planner/keywords")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "already in this sector" in html and "is not a number" in html and "between 0 and 100" in html
    good = web.post(f"/planner/keywords/{first}/edit", {"keyword": "Pour Over", "volume": "1.5K",
                                                        "difficulty": "33", "cpc": "0,75", "intent": "commercial"},
                    token_from="/planner/keywords")
    assert good.status_code == 200 and "Pour Over" in good.get_data(as_text=True)
    row = keywords_of(app, sector)["pour over"]
    assert (row.volume, row.difficulty, str(row.cpc), row.intent) == (1500, 33, "0.75", "commercial")


def test_export_streams_the_filtered_set_as_csv(app, acct):
    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 30)
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        keyword = db.session.scalars(select(Keyword).where(Keyword.normalized == "keyword 00001")).one()
        keyword.keyword = "=HYPERLINK(\"x\")"
        db.session.commit()
    web = signed_in(app, acct["a"]["email"])
    response = web.get("/planner/keywords/export.csv?volume_max=100")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "Keyword" and len(rows) == 1 + 11
    assert any(r[0].startswith("'=") for r in rows[1:])


def test_viewers_read_but_cannot_change_keywords(app, acct):
    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 3)
    add_member(app, acct["a"]["account"], email="val@acme.example.com", role="viewer", site_ids=[acct["a"]["site"]])
    web = signed_in(app, "val@acme.example.com")
    assert web.get("/planner/keywords").status_code == 200
    kid = next(iter(keywords_of(app, sector).values())).id
    for path, data in [("/planner/keywords/add", {"keywords": "x"}),
                       ("/planner/keywords/bulk", {"action": "delete", "ids": [str(kid)]}),
                       (f"/planner/keywords/{kid}/edit", {"keyword": "y"}),
                       ("/planner/keywords/import", {"text": "a\nb"})]:
        assert web.post(path, data, token_from="/planner/keywords").status_code == 403, path
    assert len(keywords_of(app, sector)) == 3


def test_another_accounts_sector_cannot_be_targeted(app, acct):
    sector = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector, 2)
    web = signed_in(app, acct["a"]["email"])
    ids = [str(k.id) for k in keywords_of(app, sector).values()]
    response = web.post("/planner/keywords/bulk", {"action": "move", "sector_id": str(acct["b"]["sectors"][0]),
                                                   "ids": ids}, token_from="/planner/keywords", follow_redirects=True)
    assert "does not exist or you do not have access" in response.get_data(as_text=True)
    assert len(keywords_of(app, sector)) == 2 and keywords_of(app, acct["b"]["sectors"][0]) == {}


def test_site_without_sectors_is_not_possible_but_no_site_shows_what_to_do(app):
    from tests.conftest import make_account

    make_account(app, email="new@acme.example.com")
    web = signed_in(app, "new@acme.example.com")
    page = web.get("/planner/keywords").get_data(as_text=True)
    assert "Add a site first" in page



def test_large_counts_are_labelled_estimates_and_small_ones_stay_exact(app, acct, monkeypatch):
    from app.services.planner import keywords as keyword_service

    sector_id = acct["a"]["sectors"][0]
    seed_keywords(app, acct["a"]["account"], sector_id, 300)
    with app.app_context(), db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(db.text("ANALYZE keywords"))
    web = signed_in(app, acct["a"]["email"])
    exact = web.get("/planner/keywords?volume_min=1000").get_data(as_text=True)
    assert 'data-testid="keyword-count">200 keywords match' in exact
    assert 'data-testid="keyword-total">300<' in exact

    monkeypatch.setattr(keyword_service, "COUNT_ESTIMATE_ABOVE", 100)  # as if the sector were large
    # The stored page was made under the old threshold (a code change, not a data change): render afresh.
    monkeypatch.setitem(app.config, "PAGE_CACHE", False)
    page = web.get("/planner/keywords?volume_min=1000").get_data(as_text=True)
    label = page.split('data-testid="keyword-count">', 1)[1].split("<", 1)[0]
    assert label.startswith("about ") and "keywords match" in label
    assert 150 <= int(label.split()[1].replace(",", "")) <= 250
    assert 'data-testid="keyword-total">about 300<' in page
    assert "Apply to all about" in page
