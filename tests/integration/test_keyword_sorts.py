"""The keyword table's difficulty and CPC sorts read the search entries' copies of those values (migration
0010_page_sorts): the order must be exactly the keywords' own, whatever changed them and while an import's
entries are still pending."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app import tenancy
from app.extensions import db
from app.models import Keyword
from app.services.planner import imports
from app.services.planner import keywords as kw
from tests.integration.helpers import signed_in, two_accounts


@pytest.fixture
def acct(app):
    return two_accounts(app)


def _expected(sector_id: int, flt: kw.KeywordFilter) -> list[int]:
    """The page as the plain sort of the keywords themselves gives it."""
    column = {"difficulty": Keyword.difficulty, "cpc": Keyword.cpc}[flt.sort]
    natural = kw.SORTS[flt.sort][1]
    if flt.direction == natural:
        order = (column.asc().nulls_last(), Keyword.id.asc()) if natural == "asc" else \
            (column.desc().nulls_last(), Keyword.id.desc())
    else:
        order = (column.desc().nulls_first(), Keyword.id.desc()) if natural == "asc" else \
            (column.asc().nulls_first(), Keyword.id.asc())
    conditions = kw._conditions(sector_id, flt)
    return list(db.session.scalars(select(Keyword.id).where(*conditions).order_by(*order)
                                   .offset((flt.page - 1) * flt.per_page).limit(flt.per_page)))


def _check(sector_id: int) -> None:
    for sort in ("difficulty", "cpc"):
        for direction in ("asc", "desc"):
            for extra in ({}, {"volume_min": 30}, {"page": 2}, {"status": "all"}, {"q": "kettle 1"}):
                flt = kw.KeywordFilter(sort=sort, direction=direction, per_page=25, **extra)
                rows, _ = kw.query_keywords(sector_id, flt)
                assert [k.id for k in rows] == _expected(sector_id, flt), (sort, direction, extra)


def test_difficulty_and_cpc_sorts_follow_the_keywords_through_imports_edits_and_moves(app, acct):
    sector, other = acct["a"]["sectors"]
    lines = "".join(f"kettle {i},{i},{'' if i % 7 == 0 else i % 11},{'' if i % 5 == 0 else f'{i % 13}.25'}\n"
                    for i in range(120))
    data = ("Keyword,Search Volume,Keyword Difficulty,CPC (USD)\n" + lines).encode()
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        imp = imports.create(sector_id=sector, data=data, filename="k.csv", user_id=None)
        imports.run(imp.id)
        assert db.session.execute(text("SELECT count(*) FROM keyword_search")).scalar() == 0  # pending
        _check(sector)  # read from the keywords themselves meanwhile
        imports.tidy_search_index(sector)
        assert db.session.execute(text("SELECT count(*), count(difficulty), count(cpc) FROM keyword_search")).one() \
            == (120, 102, 96)
        _check(sector)

        ids = list(db.session.scalars(select(Keyword.id).where(Keyword.sector_id == sector).order_by(Keyword.id)))
        kw.update_field(ids[3], "difficulty", "99")
        kw.update_field(ids[4], "difficulty", "")
        kw.update_field(ids[5], "cpc", "12.50")
        kw.update_field(ids[6], "cpc", "")
        db.session.execute(text("UPDATE keywords SET difficulty = 0, cpc = 0.01 WHERE id = :k"), {"k": ids[7]})
        db.session.commit()
        kw.add_typed(sector_id=sector, text="kettle new one\nkettle new two")
        kw.delete_keywords(ids[10:15])
        assert kw.move_to_sector(ids[20:25], from_sector_id=sector, to_sector_id=other) == (5, 0)
        kw.set_status(ids[30:40], "archived")
        _check(sector)
        _check(other)
        entry = db.session.execute(text("SELECT difficulty, cpc FROM keyword_search WHERE keyword_id = :k"),
                                   {"k": ids[5]}).one()
        assert entry.cpc == Decimal("12.50")


def test_the_keyword_page_sorted_by_cpc_lists_the_same_rows_as_the_export(app, acct):
    sector = acct["a"]["sectors"][0]
    with app.app_context(), tenancy.account_scope(acct["a"]["account"]):
        kw.add_typed(sector_id=sector, text="\n".join(f"grinder {i}" for i in range(30)))
        db.session.execute(text("UPDATE keywords SET cpc = (id % 4) + 0.5 WHERE id % 3 <> 0"))
        db.session.commit()
    web = signed_in(app, acct["a"]["email"])
    page = web.get("/planner/keywords?sort=cpc&direction=desc&per_page=100").get_data(as_text=True)
    export = web.get("/planner/keywords/export.csv?sort=cpc&direction=desc").get_data(as_text=True)
    shown = [line.split(",")[0].lstrip("\ufeff") for line in export.splitlines()[1:]]
    positions = [page.index(f"<td>{name}</td>") for name in shown]
    assert len(shown) == 30 and positions == sorted(positions)
