"""Article text helpers: word counts, headings against an outline, slugs, and the version diff."""

from app.services.writer import text
from app.services.writer.generation import demo_article, length_range

OUTLINE = [{"level": 2, "text": "Why it matters"}, {"level": 3, "text": "The basics"},
           {"level": 2, "text": "How to choose"}, {"level": 2, "text": "FAQ"}]


def test_word_count_counts_visible_words_only():
    assert text.word_count("<h2>Two words</h2><p>Three <b>more</b> words &amp; so</p>") == 7


def test_missing_headings_ignores_case_punctuation_and_extra_words():
    body = "<h2>Why it matters!</h2><h3>the BASICS of espresso</h3><h2>Something else</h2>"
    assert text.missing_headings(OUTLINE, body) == ["How to choose", "FAQ"]


def test_h1_is_found_and_slugs_are_ascii_words_with_hyphens():
    assert text.has_h1("<p>x</p><H1 class='t'>Title</H1>") and not text.has_h1("<h2>Sub</h2>")
    assert text.slugify("  Crème brûlée: 10 Tips & Tricks!  ") == "creme-brulee-10-tips-tricks"


def test_diff_lists_changed_fields_and_added_and_removed_lines():
    old = {"title": "Old", "body_html": "<h2>A</h2><p>Same.</p><p>Gone.</p>", "slug": "old"}
    new = {"title": "New", "body_html": "<h2>A</h2><p>Same.</p><p>Fresh.</p>", "slug": "old"}
    result = text.diff(old, new)
    assert [f["label"] for f in result["fields"]] == ["Title"]
    kinds = [(r["kind"], r["text"]) for r in result["lines"]]
    assert ("del", "<p>Gone.</p>") in kinds and ("add", "<p>Fresh.</p>") in kinds and ("same", "<h2>A</h2>") in kinds
    assert result["added"] == 1 and result["removed"] == 1 and result["changed"]


def test_demo_article_is_labelled_has_every_heading_and_is_within_a_quarter_of_the_target():
    for target in (300, 1500, 3000):
        answer = demo_article({"title": "Espresso", "outline": OUTLINE, "primary_keyword": "espresso",
                               "target_words": target})
        low, high = length_range(target)
        assert low <= text.word_count(answer["body_html"]) <= high
        assert text.missing_headings(OUTLINE, answer["body_html"]) == []
        assert "not written by AI" in answer["body_html"] and len(answer["meta_title"]) <= 60
