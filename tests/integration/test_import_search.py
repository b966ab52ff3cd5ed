"""An import leaves its keywords' search entries until right after its report: search stays exact meanwhile.

Also the sector check that replaced the keywords' composite foreign key (migration 0009_import_speed).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.extensions import db
from app.models import Keyword, Sector
from app.services.planner import imports
from app.services.planner import keywords as kw
from app.services.planner.keyword_copy import index_stale_search
from tests.integration.helpers import signed_in, two_accounts


@pytest.fixture
def acct(app):
    return two_accounts(app)


def _import(app, acct, rows: list[str]) -> int:
    data = ("Keyword,Volume\n" + "".join(rows)).encode()
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        imp = imports.create(sector_id=acct["a"]["sectors"][0], data=data, filename="k.csv", user_id=None)
        imports.run(imp.id)  # the report is saved; the search entries are not added yet
        imp_id = imp.id
        db.session.remove()
    return imp_id


def _shown(web, query: str) -> tuple[str, list[str]]:
    page = web.get(f"/planner/keywords?{query}&per_page=100").get_data(as_text=True)
    count = re.search(r"(\d[\d,]*) keywords? match", page)
    return (count.group(1) if count else "0"), re.findall(r"<td>([^<]*burr[^<]*)</td>", page)


def _pending(app) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM keyword_search_pending")).scalar()


def test_search_finds_imported_keywords_before_and_after_their_search_entries_are_added(app, acct):
    rows = [f"burr grinder {i},{i}\n" for i in range(200)] + [f"blade grinder {i},{i}\n" for i in range(50)]
    _import(app, acct, rows)
    web = signed_in(app, acct["a"]["email"])
    assert _pending(app) == 1
    before = _shown(web, "q=Burr+Grinder+1&sort=keyword&direction=asc")
    assert before[0] == "111"  # 1, 10–19, 100–199
    assert before[1][:3] == ["burr grinder 1", "burr grinder 10", "burr grinder 100"]

    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        imports.tidy_search_index(acct["a"]["sectors"][0])
    assert _pending(app) == 0
    assert _shown(web, "q=Burr+Grinder+1&sort=keyword&direction=asc") == before
    assert _shown(web, "q=grinder+4&sort=volume&direction=desc")[0] == "22"  # 4, 40–49, 104, 114 … 194 (burr), 4, 40–49 (blade)

    # A renamed keyword is found by its new text only; a deleted one is gone.
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        target = db.session.scalar(select(Keyword).where(Keyword.normalized == "burr grinder 7"))
        kw.update_field(target.id, "keyword", "Conical burr mill 7")
        db.session.execute(delete(Keyword).where(Keyword.normalized == "burr grinder 8"))
        db.session.commit()
    assert _shown(web, "q=conical+burr&sort=keyword&direction=asc") == ("1", ["Conical burr mill 7"])
    assert _shown(web, "q=burr+grinder+7&sort=keyword&direction=asc")[0] == "10"  # 70–79 (7 itself renamed)
    assert _shown(web, "q=burr+grinder+8&sort=keyword&direction=asc")[0] == "10"  # 80–89 (8 deleted)

    # A keyword moved to the other sector is found there, and no longer here.
    sector, other = acct["a"]["sectors"]
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        moving = db.session.scalar(select(Keyword.id).where(Keyword.normalized == "burr grinder 150"))
        assert kw.move_to_sector([moving], from_sector_id=sector, to_sector_id=other) == (1, 0)
        rows_there, total_there = kw.query_keywords(other, kw.KeywordFilter(q="grinder 150"))
        rows_here, total_here = kw.query_keywords(sector, kw.KeywordFilter(q="grinder 150"))
        assert [k.keyword for k in rows_there] == ["burr grinder 150"] and total_there == 1
        assert rows_here == [] and total_here == 0


def test_an_import_whose_job_stopped_after_the_report_is_finished_by_the_minute_tick(app, acct):
    _import(app, acct, [f"burr set {i},{i}\n" for i in range(30)])
    web = signed_in(app, acct["a"]["email"])
    assert _shown(web, "q=burr+set+2&sort=keyword&direction=asc")[0] == "11"
    with app.app_context(), tenancy.all_accounts():
        assert index_stale_search(older_than_seconds=0) == 1
    assert _pending(app) == 0
    assert _shown(web, "q=burr+set+2&sort=keyword&direction=asc")[0] == "11"


def test_a_keyword_must_match_its_sectors_site_and_account_and_goes_with_its_sector(app, acct):
    sector = acct["a"]["sectors"][0]
    with app.app_context(), tenancy.all_accounts():
        site_id = db.session.get(Sector, sector).site_id
        db.session.add(Keyword(account_id=acct["b"]["account"], site_id=site_id, sector_id=sector,
                               keyword="stray", normalized="stray"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(Keyword(account_id=acct["a"]["account"], site_id=site_id, sector_id=sector,
                               keyword="burr kept", normalized="burr kept"))
        db.session.commit()
        keyword_id = db.session.scalar(select(Keyword.id).where(Keyword.normalized == "burr kept"))
        with pytest.raises(IntegrityError):  # moved to another account's sector without its site and account
            db.session.execute(text("UPDATE keywords SET sector_id = :s WHERE id = :k"),
                               {"s": acct["b"]["sectors"][0], "k": keyword_id})
        db.session.rollback()
        db.session.execute(delete(Sector).where(Sector.id == sector))
        db.session.commit()
        assert db.session.scalar(select(Keyword.id).where(Keyword.id == keyword_id)) is None
        assert db.session.execute(text("SELECT count(*) FROM keyword_search WHERE keyword_id = :k"),
                                  {"k": keyword_id}).scalar() == 0
