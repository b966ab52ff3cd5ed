"""Pure image helpers: sizes a model can make, checked sizes, figures placed after their H2, Pillow fitting."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image

from app.errors import ValidationError
from app.services.images import placement, processing, sizes


def test_nearest_openai_size_keeps_the_shape():
    assert sizes.nearest("openai", "gpt-image-1", 1200, 630) == "1536x1024"
    assert sizes.nearest("openai", "gpt-image-1", 600, 1000) == "1024x1536"
    assert sizes.nearest("openai", "dall-e-3", 1200, 630) == "1792x1024"
    assert sizes.nearest("openai", "dall-e-2", 300, 300) == "256x256"
    assert sizes.nearest("runware", "runware:100@1", 1200, 630) == "1200x630"


@pytest.mark.parametrize("size", ["", "big", "5000x10", "100x100", "2048x256", "12x"])
def test_unsupported_sizes_are_refused_with_the_reason(size):
    with pytest.raises(ValidationError, match="not supported"):
        sizes.parse(size)


def test_sizes_are_read_with_spaces_and_times_sign():
    assert sizes.clean(" 1200 × 630 ") == "1200x630"


def _image(n, placement_, status="generated"):
    return SimpleNamespace(id=n, kind="in_article", position=n, placement=placement_, status=status,
                           file_key=f"1/2/{'a' * 31}{n}.webp", alt=f"Alt <{n}>", caption=f"Cap & {n}",
                           width=1024, height=768)


def test_figures_go_after_the_first_paragraph_of_their_section_and_are_replaced_not_duplicated():
    body = "<h2>One</h2><p>a</p><p>b</p><h2>Two &amp; more</h2><p>c</p>"
    placed = placement.place(body, [_image(1, "One"), _image(2, "Two & more"), _image(3, "Missing", "failed")])
    assert placed.index("<p>a</p>") < placed.index("/writer/images/1/") < placed.index("<p>b</p>")
    assert placed.index("<h2>Two") < placed.index("/writer/images/2/") and "/writer/images/3/" not in placed
    assert 'alt="Alt &lt;1&gt;"' in placed and "<figcaption>Cap &amp; 1</figcaption>" in placed
    again = placement.place(placed, [_image(1, "One"), _image(2, "Two & more")])
    assert again.count("<figure>") == 2 and placement.strip_placed(again) == body


def test_fit_crops_resizes_and_compresses_and_refuses_non_images():
    out = io.BytesIO()
    Image.new("RGB", (1536, 1024), (10, 200, 30)).save(out, "PNG")
    data, mime = processing.fit(out.getvalue(), 1200, 630)
    assert mime == "image/webp" and Image.open(io.BytesIO(data)).size == (1200, 630)
    data, mime = processing.fit(out.getvalue(), 1024, 768, fmt="jpeg")
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).format == "JPEG"
    with pytest.raises(processing.NotAnImage):
        processing.fit(b"<html>nope</html>", 100, 100)
