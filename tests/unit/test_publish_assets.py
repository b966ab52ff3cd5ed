"""What a post carries: term names cleaned of HTML, tags from keywords capped, image addresses rewritten."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.services.publishing.assets import clean_term_name, rewrite_sources, term_names
from app.services.publishing.seo import writable_fields


@pytest.fixture(autouse=True)
def clean_state():
    """Pure functions: no database or Redis (overrides tests/conftest.py)."""
    yield


def test_term_names_lose_html_and_entities_and_extra_space():
    assert clean_term_name("<b>Beans</b> &amp;  <script>x</script>Grinders") == "Beans & Grinders"
    assert clean_term_name("  \n ") == ""
    assert len(clean_term_name("x" * 500)) == 200


def _article(**kw):
    values = dict(primary_keyword="espresso", secondary_keywords=["Espresso", "crema", "<i>tamper</i>", "milk"],
                  cluster=SimpleNamespace(name="Coffee gear"))
    values.update(kw)
    return SimpleNamespace(**values)


def test_categories_follow_the_site_setting_and_tags_are_deduplicated_and_capped():
    article = _article()
    assert term_names(article, category_source="cluster", default_category="News", max_tags=3) == \
        (["Coffee gear"], ["espresso", "crema", "tamper"])
    assert term_names(article, category_source="both", default_category="News", max_tags=0)[0] == ["News", "Coffee gear"]
    assert term_names(article, category_source="default", default_category="News", max_tags=5)[0] == ["News"]
    assert term_names(_article(cluster=None), category_source="cluster", default_category="", max_tags=5)[0] == []
    assert term_names(article, category_source="none", default_category="News", max_tags=99)[1] == \
        ["espresso", "crema", "tamper", "milk"]


def test_image_sources_point_at_the_media_library_copy():
    body = '<p><img src="/media/a.png" alt="A"></p><img src=\'/media/b.png\'><img src="/media/c.png">'
    out = rewrite_sources(body, {"/media/a.png": "https://wp.example.com/a.png",
                                 "/media/b.png": "https://wp.example.com/b.png"})
    assert 'src="https://wp.example.com/a.png"' in out and "src='https://wp.example.com/b.png'" in out
    assert 'src="/media/c.png"' in out


def test_seo_fields_only_when_the_schema_lists_them_writable():
    schema = {"schema": {"properties": {"meta": {"properties": {"rank_math_title": {"type": "string"},
                                                                "rank_math_description": {"type": "string"}}}}}}
    assert writable_fields(schema) == {"plugin": "Rank Math", "title": "rank_math_title",
                                       "description": "rank_math_description"}
    readonly = {"schema": {"properties": {"meta": {"properties": {"_yoast_wpseo_title": {"readonly": True}}}}}}
    assert writable_fields(readonly) is None
    assert writable_fields({"schema": {"properties": {}}}) is None
