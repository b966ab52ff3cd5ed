"""The writer by hand in a browser (offline demo provider): tasks → three articles with a progress bar → the
rich-text editor (edit, save, version history, the HTML source view) → image prompts and images → the preview →
regenerate one image with my own prompt → review → approve; credits shown before and deducted after."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.services.images.placement import _PLACED
from tests.e2e.helpers import sign_in
from tests.integration.ai_support import EMAIL, setup_account
from tests.integration.writer_support import articles, make_tasks

pytestmark = pytest.mark.e2e

TITLES = ["Espresso at home", "Milk frothing", "Grinder care"]
ADDED = "A sentence added in the rich-text editor."


def credits_in_header(page: Page) -> int:
    return int(re.sub(r"\D", "", page.locator("#credits-badge").inner_text()))


def estimated(page: Page) -> int:
    text = page.get_by_test_id("estimate").inner_text()
    return int(re.search(r"about ([\d,]+) credits", text).group(1).replace(",", ""))


def article_credits(page: Page) -> int:
    """The article's own cost table: credits charged for it so far (text, prompts and images)."""
    return int(float(page.get_by_test_id("cost-total-credits").inner_text()))


def csp_watch(page: Page) -> list[str]:
    """Console reports of anything the page's Content-Security-Policy refused."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def rich_editor(page: Page):
    """The editable area of the rich-text editor (Jodit) that replaces the body textarea."""
    editor = page.get_by_test_id("rich-editor")
    expect(editor).to_be_visible()
    return editor.locator(".jodit-wysiwyg")


def run_to_success(page: Page) -> None:
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.get_by_test_id("job-status")).to_have_text("Succeeded", timeout=60_000)


def test_tasks_to_approved_article_with_editor_images_and_credits(app, page: Page, live_server, worker):
    ids = setup_account(app)
    world = make_tasks(app, ids["account"], TITLES)
    refused = csp_watch(page)
    sign_in(page, EMAIL)
    expect(page).to_have_url(re.compile(r"/$"))

    # Writer → Tasks: select all three, see the cost, write them with a progress bar.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Writer").click()
    page.get_by_role("navigation", name="Writer").get_by_role("link", name="Tasks").click()
    expect(page.locator("#writer-tasks-list tbody tr")).to_have_count(3)
    page.locator("#writer-tasks-list input[data-check-all]").check()
    page.get_by_test_id("write-selected").click()
    expect(page.get_by_test_id("estimate")).to_contain_text("This will cost about")
    before = credits_in_header(page)
    cost = estimated(page)
    assert cost >= 1
    page.get_by_test_id("confirm-generate").click()
    run_to_success(page)
    opened = page.get_by_test_id("run-results").get_by_role("link", name="Open the article")
    expect(opened).to_have_count(3)
    charged = int(re.search(r"(\d+) credit\(s\) charged", page.get_by_test_id("run-results").inner_text()).group(1))
    assert 1 <= charged <= cost
    page.reload()
    assert credits_in_header(page) == before - charged

    # The editor: the body is a rich-text editor; an edit there is saved as a new version.
    opened.first.click()
    article_url = page.url
    body = rich_editor(page)
    expect(page.locator("textarea#body_html")).to_be_hidden()
    expect(body.locator("h2").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("version 1")
    body.locator("p").first.click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type(ADDED + " ")
    page.keyboard.press("Control+b")
    page.keyboard.type("Bold words")
    page.keyboard.press("Control+b")
    expect(body.locator("strong", has_text="Bold words")).to_be_visible()

    # Leaving with unsaved edits asks first (and staying keeps the edit).
    asked: list[str] = []

    def stay(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    editor_url = page.url
    page.get_by_role("link", name="Back to content").click()
    expect(body.locator("strong", has_text="Bold words")).to_be_visible()
    assert asked == ["beforeunload"]
    assert page.url == editor_url
    page.remove_listener("dialog", stay)

    page.get_by_test_id("save").click()
    expect(page.locator("#flash")).to_contain_text("Saved.")
    expect(page.locator("main")).to_contain_text("version 2")
    stored = next(a for a in articles(app, ids["account"]) if a["version"] == 2)
    assert ADDED in stored["body"] and "<strong>Bold words</strong>" in stored["body"]
    expect(rich_editor(page).locator("strong", has_text="Bold words")).to_be_visible()

    # Version history: the edit is version 2, and "What changed" shows the added sentence.
    page.get_by_role("link", name="Version history").click()
    expect(page.locator("#version-2")).to_contain_text("Edit")
    expect(page.locator("#version-1")).to_contain_text("AI writing")
    page.locator("#version-2").get_by_role("link", name="What changed").click()
    expect(page.locator("main")).to_contain_text(ADDED)
    page.goto(article_url)

    # Image prompts, then the images: each with its estimate, a progress bar and credits deducted.
    spent_before = article_credits(page)
    page.get_by_test_id("image-prompts").click()
    expect(page.get_by_test_id("estimate")).to_be_visible()
    balance = credits_in_header(page)
    prompt_cost = estimated(page)
    page.get_by_test_id("confirm-images").click()
    run_to_success(page)
    page.goto(article_url)
    statuses = page.get_by_test_id("image-status")
    expect(statuses.first).to_be_visible()
    image_count = statuses.count()
    assert image_count >= 2  # one featured and the site's in-article images
    prompts_charged = article_credits(page) - spent_before
    assert 1 <= prompts_charged <= prompt_cost
    assert credits_in_header(page) == balance - prompts_charged

    balance, spent_before = credits_in_header(page), article_credits(page)
    page.get_by_test_id("make-images").click()
    expect(page.get_by_test_id("estimate")).to_be_visible()
    page.get_by_test_id("confirm-images").click()
    run_to_success(page)
    page.goto(article_url)
    expect(page.get_by_test_id("image-status")).to_have_text(["Made"] * image_count)
    images_charged = article_credits(page) - spent_before
    assert images_charged >= image_count
    assert credits_in_header(page) == balance - images_charged

    # The preview shows them in place; the rich-text editor holds the same figures with their captions.
    preview = page.get_by_test_id("preview")
    expect(preview.get_by_test_id("preview-featured")).to_be_visible()
    in_article = image_count - 1
    expect(preview.locator("figure img")).to_have_count(image_count)
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid=preview] figure img")]
        .every(img => img.complete && img.naturalWidth > 0)""")  # every file is served and decodes
    body = rich_editor(page)
    expect(body.locator("figure img")).to_have_count(in_article)
    expect(body.locator("figure figcaption")).to_have_count(in_article)

    # Saving through the editor keeps the placed figures intact (the image stage still recognises them).
    body.locator("p").last.click()
    page.keyboard.press("End")
    page.keyboard.type(" One more line.")
    page.get_by_test_id("save").click()
    expect(page.locator("#flash")).to_contain_text("Saved.")
    stored = next(a for a in articles(app, ids["account"]) if a["id"] == stored["id"])
    assert len(_PLACED.findall(stored["body"])) == in_article
    assert "One more line." in stored["body"]

    # Regenerate one in-article image with a prompt of my own: the estimate first, then the new image.
    own_prompt = "A flat-lay photo of a copper espresso pot on slate, morning light"
    spent_before = article_credits(page)
    page.locator("#article-images tbody tr").nth(1).get_by_role("link", name="Regenerate").click()
    old_src = page.get_by_test_id("image-file").get_attribute("src")
    page.get_by_label(re.compile("Prompt")).fill(own_prompt)
    page.get_by_test_id("regenerate-estimate").click()
    expect(page.get_by_test_id("estimate")).to_contain_text("This will cost about")
    balance = credits_in_header(page)
    regen_cost = estimated(page)
    page.get_by_test_id("confirm-regenerate").click()
    run_to_success(page)
    page.goto(article_url)
    expect(page.locator("#article-images tbody tr").nth(1)).to_contain_text(own_prompt)
    regen_charged = article_credits(page) - spent_before
    assert regen_charged == regen_cost
    assert credits_in_header(page) == balance - regen_charged
    expect(page.get_by_test_id("preview").locator("figure img")).to_have_count(image_count)
    assert old_src not in [page.get_by_test_id("preview").locator("figure img").nth(i).get_attribute("src")
                           for i in range(image_count)]
    stored = next(a for a in articles(app, ids["account"]) if a["id"] == stored["id"])
    assert len(_PLACED.findall(stored["body"])) == in_article

    # Send to review; the review queue previews it with its images; approve.
    page.get_by_test_id("move-review").click()
    expect(page.get_by_test_id("content-status")).to_have_text("In review")
    page.get_by_role("navigation", name="Writer").get_by_role("link", name="Review").click()
    card = page.locator(f"#review-{stored['id']}")
    expect(card.get_by_test_id("preview").locator("figure img")).to_have_count(image_count)
    card.get_by_test_id("approve").click()
    expect(page.locator("#flash")).to_contain_text("Approved")
    page.goto(article_url)
    expect(page.get_by_test_id("content-status")).to_have_text("Approved")

    # Everything charged along the way left the header, and nothing else did.
    assert credits_in_header(page) == before - charged - prompts_charged - images_charged - regen_charged
    assert world["tasks"] and not refused, refused


def test_source_view_edit_is_saved_and_cleaned_by_the_server(app, page: Page, live_server, worker):
    ids = setup_account(app)
    make_tasks(app, ids["account"], TITLES[:1])
    refused = csp_watch(page)
    sign_in(page, EMAIL)
    page.goto("/writer/tasks")
    page.locator("#writer-tasks-list input[data-check-all]").check()
    page.get_by_test_id("write-selected").click()
    page.get_by_test_id("confirm-generate").click()
    run_to_success(page)
    page.get_by_test_id("run-results").get_by_role("link", name="Open the article").click()
    rich_editor(page)

    # The meta fields count their characters as I type and mark a length over the limit.
    for field, limit, kept in (("meta_title", 60, "Espresso at home, by hand"),
                               ("meta_description", 160, "How to pull a good shot at home.")):
        counter = page.locator(f'[data-counter-for="{field}"]')
        page.locator(f"#{field}").fill("x" * (limit + 1))
        expect(counter).to_have_text(str(limit + 1))
        expect(counter).to_have_class(re.compile(r"\berror\b"))
        page.locator(f"#{field}").fill(kept)
        expect(counter).to_have_text(str(len(kept)))
        expect(counter).not_to_have_class(re.compile(r"\berror\b"))

    # The HTML source view: replace the body with HTML typed by hand, then save straight from that view.
    page.get_by_test_id("rich-editor").locator("[aria-label='Source code'], .jodit-toolbar-button_source button") \
        .first.click()
    source = page.get_by_test_id("rich-editor").locator("textarea.jodit-source__mirror")
    expect(source).to_be_visible()
    assert "<h2>" in source.input_value()
    source.fill('<h2>Typed in the source view</h2><p style="color:red" onclick="steal()">Hand-written '
                '<a href="javascript:alert(1)">bad link</a> and <a href="https://example.com/guide">a good one</a>'
                '.</p><script>alert("x")</script><table><tr><th>Grind</th><td>Fine</td></tr></table>')
    page.get_by_test_id("save").click()
    expect(page.locator("#flash")).to_contain_text("Saved.")

    stored = articles(app, ids["account"])[0]
    assert stored["version"] == 2
    assert stored["meta_title"] == "Espresso at home, by hand"
    assert stored["meta_description"] == "How to pull a good shot at home."
    body = stored["body"]
    assert "<h2>Typed in the source view</h2>" in body
    assert "Hand-written" in body and 'href="https://example.com/guide"' in body
    assert "<th>Grind</th>" in body and "<td>Fine</td>" in body
    for unsafe in ("<script", "alert(", "javascript:", "onclick", "style="):
        assert unsafe not in body, (unsafe, body)
    # And the editor shows the cleaned text back.
    body_area = rich_editor(page)
    expect(body_area.locator("h2")).to_have_text("Typed in the source view")
    expect(body_area.locator("table th")).to_have_text("Grind")
    # While it sat in the editor, the page's policy refused to run the handler typed into the source view;
    # the editor's own scripts and styles were never refused.
    assert all("inline event handler" in message for message in refused), refused


def test_a_stale_save_from_the_rich_text_editor_is_refused_and_keeps_the_edit(app, page: Page, live_server, worker):
    ids = setup_account(app)
    world = make_tasks(app, ids["account"], TITLES[:1])
    sign_in(page, EMAIL)
    page.goto("/writer/tasks")
    page.locator("#writer-tasks-list input[data-check-all]").check()
    page.get_by_test_id("write-selected").click()
    page.get_by_test_id("confirm-generate").click()
    run_to_success(page)
    page.get_by_test_id("run-results").get_by_role("link", name="Open the article").click()
    article_url = page.url
    mine = rich_editor(page)

    # Someone else saves the same article in another tab meanwhile.
    other = page.context.new_page()
    other.goto(article_url)
    theirs = rich_editor(other)
    theirs.locator("p").first.click()
    other.keyboard.press("End")
    other.keyboard.type(" Their change.")
    other.get_by_test_id("save").click()
    expect(other.locator("#flash")).to_contain_text("Saved.")
    other.close()

    # My save is refused with a message, and my text is still in the editor to save again.
    mine.locator("p").first.click()
    page.keyboard.press("End")
    page.keyboard.type(" My own change.")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("editor-error")).to_be_visible()
    expect(rich_editor(page)).to_contain_text("My own change.")
    stored = articles(app, ids["account"])[0]
    assert stored["version"] == 2 and "Their change." in stored["body"] and "My own change." not in stored["body"]
    assert world["tasks"]
