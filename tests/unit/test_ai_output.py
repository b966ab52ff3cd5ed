"""Untrusted model output: sanitizer, JSON schema checks, cluster-naming input parsing, pricing math."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.models import AIModel
from app.services.ai.catalogue import cost_usd, credits_for_tokens
from app.services.ai.cluster_naming import SCHEMA, parse_groups
from app.services.ai.output import OutputError, clean_text, parse_json, sanitize_html


def test_sanitizer_removes_scripts_event_handlers_and_javascript_urls():
    dirty = ('<h2 onclick="steal()">Title</h2><script>alert(1)</script>'
             '<p onmouseover="x()">Text <a href="javascript:alert(1)">bad</a> <a href="https://ok.example">ok</a></p>'
             '<img src="javascript:alert(2)" onerror="alert(3)" alt="pic"><iframe src="https://evil"></iframe>')
    clean = sanitize_html(dirty)
    assert "<script" not in clean and "alert(1)" not in clean
    assert "onclick" not in clean and "onmouseover" not in clean and "onerror" not in clean
    assert "javascript:" not in clean and "<iframe" not in clean
    assert "<h2>Title</h2>" in clean and 'href="https://ok.example"' in clean and 'alt="pic"' in clean


def test_clean_text_strips_all_markup():
    assert clean_text('<b>Espresso</b>  <script>alert(1)</script> guides') == "Espresso guides"


def test_parse_json_reports_syntax_errors_readably():
    with pytest.raises(OutputError, match="not valid JSON"):
        parse_json('{"clusters": [', SCHEMA)


def test_parse_json_names_the_wrong_field():
    answer = '{"clusters": [{"group": 1, "name": "A", "description": "B", "intent": "curious"}]}'
    with pytest.raises(OutputError, match=r"\$\.clusters\[0\]\.intent must be one of"):
        parse_json(answer, SCHEMA)
    with pytest.raises(OutputError, match="missing the field 'description'"):
        parse_json('{"clusters": [{"group": 1, "name": "A", "intent": "commercial"}]}', SCHEMA)


def test_parse_json_accepts_a_fenced_answer():
    answer = '```json\n{"clusters": [{"group": 1, "name": "A", "description": "B", "intent": "commercial"}]}\n```'
    assert parse_json(answer, SCHEMA)["clusters"][0]["name"] == "A"


def test_parse_groups_one_group_per_line():
    text = "espresso machine, Espresso  Machine, best espresso machine\n\n  cold brew ratio ,cold brew\n,,\n"
    assert parse_groups(text) == [["espresso machine", "best espresso machine"], ["cold brew ratio", "cold brew"]]


def test_text_price_is_tokens_over_tokens_per_credit_rounded_up_with_minimum():
    model = AIModel(tokens_per_credit=1000, min_credits=2, cost_per_1k_input=Decimal("0.001"),
                    cost_per_1k_output=Decimal("0.002"), cost_per_image=Decimal(0))
    assert credits_for_tokens(model, 10) == 2
    assert credits_for_tokens(model, 2001) == 3
    assert credits_for_tokens(model, 5000) == 5
    assert cost_usd(model, tokens_in=1000, tokens_out=500) == Decimal("0.002000")


def test_clean_text_stores_plain_text_not_html_entities():
    assert clean_text("Tea &amp; Coffee") == "Tea & Coffee"
    assert clean_text("Tea & Coffee <em>guide</em>") == "Tea & Coffee guide"
    assert clean_text("espresso > drip") == "espresso > drip"
