"""Images through the pages (offline demo provider, real RQ worker): estimate first, then prompts and images,
the preview with images in place, regenerating one image, the gallery, bulk actions, filters and cost truth."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from app import tenancy
from app.extensions import db
from app.models import ContentImage
from app.services.images.storage import StorageError
from tests.conftest import make_account
from tests.integration.ai_support import EMAIL, ledger, run_worker, setup_account
from tests.integration.helpers import signed_in
from tests.integration.images_support import body_of, images_of, make_site_article, stored_file


@pytest.fixture
def ids(app):
    out = setup_account(app)
    return {**out, **make_site_article(app, out["account"])}


@pytest.fixture
def web(app, ids):
    return signed_in(app, EMAIL)


def make_images(app, web, content_id):
    page = f"/writer/content/{content_id}"
    estimate = web.post("/writer/images/estimate", {"content_ids": content_id, "what": "prompts"}, token_from=page)
    assert estimate.status_code == 200 and "Confirm and start" in estimate.get_data(as_text=True)
    assert web.post("/writer/images/start", {"content_ids": content_id, "what": "prompts", "tier": "testing"},
                    token_from=page).status_code == 302
    run_worker(app)
    estimate = web.post("/writer/images/estimate", {"content_ids": content_id, "what": "images"}, token_from=page)
    text = estimate.get_data(as_text=True)
    assert "3 image(s) to make" in text
    started = web.post("/writer/images/start", {"content_ids": content_id, "what": "images", "tier": "testing"},
                       token_from=page)
    assert started.status_code == 302 and "/writer/images/runs/" in started.headers["Location"]
    run_worker(app)
    return started.headers["Location"]


def test_article_page_makes_prompts_and_images_and_the_preview_shows_them_in_place(app, ids, web):
    before = ledger(app, ids["account"])["balance"]
    run_page = make_images(app, web, ids["content"])
    assert "Made 3 image(s)" in web.get(run_page).get_data(as_text=True)
    page = web.get(f"/writer/content/{ids['content']}").get_data(as_text=True)
    preview = page[page.index('data-testid="preview"'):]
    assert 'data-testid="preview-featured"' in preview
    assert preview.count("<figure>") >= 2 and "<figcaption>" in preview
    sources = re.findall(r'src="(/writer/images/\d+/file/[0-9a-f]+\.webp)"', preview)
    assert len(sources) == 3
    served = web.get(sources[1])
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert Image.open(io.BytesIO(served.data)).size == (1024, 768)
    # Cost truth: the three demo images, 1 credit each, summed on the article.
    costs = page[page.index('data-testid="article-costs"'):]
    assert re.search(r'data-testid="cost-images-credits">3<', costs)
    assert before - ledger(app, ids["account"])["balance"] == 3 + _prompt_credits(app, ids)


def _prompt_credits(app, ids) -> int:
    from sqlalchemy import select

    from app.models import CreditUsageLog

    with app.app_context(), tenancy.account_scope(ids["account"]):
        total = sum(u.credits for u in db.session.scalars(select(CreditUsageLog).where(
            CreditUsageLog.operation == "image_prompt_extraction")))
        db.session.remove()
    return total


def test_regenerate_with_my_own_prompt_shows_the_estimate_then_replaces_the_file(app, ids, web):
    make_images(app, web, ids["content"])
    image = images_of(app, ids["account"], ids["content"])[1]
    page = f"/writer/images/{image['id']}"
    estimate = web.post(page, {"prompt": "A barista pouring latte art", "tier": "testing"}, token_from=page)
    assert estimate.status_code == 200 and "Confirm and make it again" in estimate.get_data(as_text=True)
    assert images_of(app, ids["account"], ids["content"])[1]["file_key"] == image["file_key"]  # nothing yet
    done = web.post(page, {"prompt": "A barista pouring latte art", "tier": "testing", "confirm": "1"},
                    token_from=page)
    assert done.status_code == 302
    run_worker(app)
    after = images_of(app, ids["account"], ids["content"])[1]
    assert after["prompt"] == "A barista pouring latte art" and after["status"] == "generated"
    assert after["file_key"] != image["file_key"] and after["credits"] == 2
    with pytest.raises(StorageError):
        stored_file(app, image["file_key"])  # the old file is removed once the new one is stored
    body = body_of(app, ids["account"], ids["content"])
    assert after["file_key"].rsplit("/", 1)[-1] in body and image["file_key"].rsplit("/", 1)[-1] not in body
    assert body.count("<figure>") == 2
    # Placing the images and replacing one each kept the text before as a version, saying what made it.
    history = web.get(f"/writer/content/{ids['content']}/versions").get_data(as_text=True)
    assert history.count("· Images placed") == 2
    newest = int(re.search(r'id="version-(\d+)"', history).group(1))
    diff = web.get(f"/writer/content/{ids['content']}/versions/{newest}").get_data(as_text=True)
    assert "1 line(s) added, 1 removed" in diff and after["file_key"].rsplit("/", 1)[-1] in diff


def test_double_clicking_image_prompts_images_or_regenerate_makes_one_run_and_one_charge(app, ids, web):
    from sqlalchemy import select

    from app.models import CreditUsageLog, Job

    page = f"/writer/content/{ids['content']}"

    def twice(path, form):
        first = web.post(path, form, token_from=page)
        second = web.post(path, form, token_from=page)
        assert first.status_code == 302, first.get_data(as_text=True)[:500]
        # The second click leads to the same run, or says why nothing more starts.
        assert second.status_code in (302, 409), second.get_data(as_text=True)[:500]
        if second.status_code == 302:
            assert second.headers["Location"] == first.headers["Location"]
        run_worker(app)

    twice("/writer/images/start", {"content_ids": ids["content"], "what": "prompts", "tier": "testing"})
    assert len(images_of(app, ids["account"], ids["content"])) == 3
    twice("/writer/images/start", {"content_ids": ids["content"], "what": "images", "tier": "testing"})
    image = images_of(app, ids["account"], ids["content"])[1]
    twice(f"/writer/images/{image['id']}", {"prompt": "A barista at work", "tier": "testing", "confirm": "1"})
    assert images_of(app, ids["account"], ids["content"])[1]["credits"] == 2  # made, then made again once
    with app.app_context(), tenancy.account_scope(ids["account"]):
        jobs = db.session.scalars(select(Job.kind)).all()
        usage = db.session.scalars(select(CreditUsageLog.operation)).all()
        db.session.remove()
    assert len(jobs) == 3
    assert sorted(usage).count("image_prompt_extraction") == 1
    assert body_of(app, ids["account"], ids["content"]).count("<figure>") == 2
    money = ledger(app, ids["account"])
    assert money["balance"] == money["ledger"]


@pytest.mark.parametrize("form,message", [
    ({"prompt": "x" * 10_000}, "the limit is 2,000"),
    ({"prompt": "A cup", "size": "5000x10"}, "is not supported"),
    ({"prompt": "A cup", "size": "huge"}, "is not supported"),
    ({"prompt": "   "}, "Write a prompt"),
])
def test_bad_regenerate_input_gets_a_clear_message_and_changes_nothing(app, ids, web, form, message):
    make_images(app, web, ids["content"])
    image = images_of(app, ids["account"], ids["content"])[1]
    balance = ledger(app, ids["account"])["balance"]
    page = f"/writer/images/{image['id']}"
    for extra in ({}, {"confirm": "1"}):
        response = web.post(page, {**form, "tier": "testing", **extra}, token_from=page)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    run_worker(app)
    assert images_of(app, ids["account"], ids["content"])[1] == image
    assert ledger(app, ids["account"])["balance"] == balance


def test_another_accounts_image_file_answers_404(app, ids, web):
    make_images(app, web, ids["content"])
    image = images_of(app, ids["account"], ids["content"])[0]
    url = f"/writer/images/{image['id']}/file/{image['file_key'].rsplit('/', 1)[-1]}"
    assert web.get(url).status_code == 200
    make_account(app, email="other@globex.example.com", account_name="Globex")
    other = signed_in(app, "other@globex.example.com")
    response = other.get(url)
    assert response.status_code == 404 and b"RIFF" not in response.data
    assert other.get(f"/writer/images/{image['id']}").status_code == 404
    assert web.get(f"/writer/images/{image['id']}/file/0123456789abcdef0123456789abcdef.webp").status_code == 404
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", image["file_key"].replace("/", "%2F")):
        assert web.get(f"/writer/images/{image['id']}/file/{name}").status_code == 404, name
    # A colleague in the same account without a grant for this site is refused too.
    from tests.integration.helpers import add_member, add_site

    other_site, _ = add_site(app, ids["account"], "Tea Blog", ("Green tea",))
    add_member(app, ids["account"], email="ed@acme.example.com", role="editor", site_ids=[other_site])
    editor = signed_in(app, "ed@acme.example.com")
    assert editor.get(url).status_code == 404 and editor.get(f"/writer/images/{image['id']}").status_code == 404


def test_content_list_bulk_image_actions_has_images_filter_and_cost_column(app, ids, web):
    second = make_site_article(app, ids["account"], title="Grinder guide",
                               world={"site": ids["site"], "sector": ids["sector"]})["content"]
    listing = "/writer/content"
    response = web.post("/writer/content/bulk", {"action": "image_prompts", "content_ids": [ids["content"], second]},
                        token_from=listing)
    assert response.status_code == 200 and "Image prompts for 2 article(s)" in response.get_data(as_text=True)
    web.post("/writer/images/start", {"content_ids": [ids["content"], second], "what": "prompts"},
             token_from=listing)
    run_worker(app)
    response = web.post("/writer/content/bulk", {"action": "images", "content_ids": [ids["content"]]},
                        token_from=listing)
    assert "3 image(s) to make" in response.get_data(as_text=True)
    web.post("/writer/images/start", {"content_ids": [ids["content"]], "what": "images"}, token_from=listing)
    run_worker(app)
    with_images = web.get("/writer/content?images=yes").get_data(as_text=True)
    without = web.get("/writer/content?images=no").get_data(as_text=True)
    assert "Espresso basics" in with_images and "Grinder guide" not in with_images
    assert "Grinder guide" in without and "Espresso basics" not in without
    costs = web.get("/writer/content?costs=1").get_data(as_text=True)
    assert costs.count('data-testid="row-credits"') == 2
    gallery = web.get("/writer/images?status=pending").get_data(as_text=True)
    assert gallery.count('data-status="pending"') == 3 and "Grinder guide" in gallery
    assert web.get("/writer/images?status=generated").get_data(as_text=True).count('data-status="generated"') == 3


def test_viewer_cannot_start_image_work(app, ids):
    from tests.integration.helpers import add_member

    add_member(app, ids["account"], email="viewer@acme.example.com", role="viewer", site_ids=(ids["site"],))
    viewer = signed_in(app, "viewer@acme.example.com")
    page = f"/writer/content/{ids['content']}"
    assert viewer.get(page).status_code == 200
    response = viewer.post("/writer/images/start", {"content_ids": ids["content"], "what": "prompts"},
                           token_from=page)
    assert response.status_code == 403
    with app.app_context(), tenancy.all_accounts():
        assert db.session.query(ContentImage).count() == 0
        db.session.remove()


def test_viewer_cannot_regenerate_an_image_and_the_writer_module_off_refuses_image_pages_and_runs(app, ids, web):
    from sqlalchemy import select

    from app.errors import DomainError
    from app.models import Account
    from app.services.images import generation, prompts
    from tests.integration.helpers import add_member

    make_images(app, web, ids["content"])
    image = images_of(app, ids["account"], ids["content"])[1]
    # A second article with prompts but no images yet, and a third with neither.
    world = {"site": ids["site"], "sector": ids["sector"]}
    second = make_site_article(app, ids["account"], title="Grinder guide", world=world)["content"]
    third = make_site_article(app, ids["account"], title="Milk guide", world=world)["content"]
    web.post("/writer/images/start", {"content_ids": second, "what": "prompts", "tier": "testing"},
             token_from="/writer/content")
    run_worker(app)
    add_member(app, ids["account"], email="viewer@acme.example.com", role="viewer", site_ids=(ids["site"],))
    viewer = signed_in(app, "viewer@acme.example.com")
    page = f"/writer/images/{image['id']}"
    assert viewer.get(page).status_code == 200
    for form in ({"prompt": "A viewer's own picture"}, {"prompt": "A viewer's own picture", "confirm": "1"}):
        assert viewer.post(page, {**form, "tier": "testing"}, token_from=page).status_code == 403
    run_worker(app)
    assert images_of(app, ids["account"], ids["content"])[1] == image

    with app.app_context(), tenancy.account_scope(ids["account"]):
        account = db.session.scalars(select(Account)).one()
        account.modules = {**(account.modules or {}), "writer": False}
        db.session.commit()
        db.session.remove()
    balance = ledger(app, ids["account"])["balance"]
    content = f"/writer/content/{ids['content']}"
    assert web.get("/writer/images").status_code == 403 and web.get(page).status_code == 403
    for path, form in (("/writer/images/estimate", {"content_ids": ids["content"], "what": "images"}),
                       ("/writer/images/start", {"content_ids": ids["content"], "what": "images"}),
                       (page, {"prompt": "A cup", "confirm": "1", "tier": "testing"})):
        assert web.post(path, form, token_from="/").status_code == 403, path
    with app.app_context(), tenancy.account_scope(ids["account"]):
        for start in (lambda: prompts.start_prompts(content_ids=[third], tier="testing",
                                                    created_by_id=ids["user"]),
                      lambda: generation.start_images(content_ids=[second], tier="testing",
                                                      created_by_id=ids["user"]),
                      lambda: generation.start_regenerate(image_id=image["id"], prompt="A cup", tier="testing",
                                                          created_by_id=ids["user"])):
            with pytest.raises(DomainError, match="Writer module is turned off"):
                start()
        db.session.remove()
    run_worker(app)
    assert images_of(app, ids["account"], ids["content"])[1] == image
    assert images_of(app, ids["account"], third) == []
    assert {i["status"] for i in images_of(app, ids["account"], second)} == {"pending"}
    assert ledger(app, ids["account"])["balance"] == balance and web.get(content).status_code == 403


def test_image_settings_steer_the_prompts_and_sizes_and_bad_values_change_nothing(app, ids, web):
    page = "/writer/settings"
    form = {"section": "images", "image_count": "4", "image_style": "illustration", "image_style_note": "warm light",
            "featured_size": "1600x900", "in_article_size": "800x600"}
    bad = web.post(page, {**form, "featured_size": "5000x10", "image_count": "1"}, token_from=page)
    assert bad.status_code == 422 and "is not supported" in bad.get_data(as_text=True)
    assert web.post(page, {**form, "image_count": "7"}, token_from=page).status_code == 422
    assert 'value="2"' in web.get(page).get_data(as_text=True)  # unchanged
    assert web.post(page, form, token_from=page).status_code == 302
    content = f"/writer/content/{ids['content']}"
    web.post("/writer/images/start", {"content_ids": ids["content"], "what": "prompts"}, token_from=content)
    run_worker(app)
    images = images_of(app, ids["account"], ids["content"])
    assert len(images) == 5
    web.post("/writer/images/start", {"content_ids": ids["content"], "what": "images"}, token_from=content)
    run_worker(app)
    images = images_of(app, ids["account"], ids["content"])
    assert (images[0]["width"], images[0]["height"]) == (1600, 900)
    assert {(i["width"], i["height"]) for i in images[1:]} == {(800, 600)}


def test_review_queue_preview_shows_the_images_in_place(app, ids, web):
    make_images(app, web, ids["content"])
    content = f"/writer/content/{ids['content']}"
    assert web.post(f"{content}/status", {"to": "review"}, token_from=content).status_code == 302
    page = web.get("/writer/review").get_data(as_text=True)
    preview = page[page.index('data-testid="preview"'):]
    assert 'data-testid="preview-featured"' in preview
    assert len(re.findall(r'<figure><img src="/writer/images/\d+/file/[0-9a-f]+\.webp"', preview)) == 2
