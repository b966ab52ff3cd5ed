"""Article text helpers: word counts, headings, slugs and a readable diff between two versions."""

from __future__ import annotations

import difflib
import html
import re
import unicodedata

from app.services.ai.output import clean_text

_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_END = re.compile(r"(</(?:p|h[1-6]|li|tr|table|ul|ol|blockquote|figure|pre|dl)\s*>|<br\s*/?>)",
                        re.IGNORECASE)


def word_count(body_html: str) -> int:
    """Words of the article's visible text."""
    return len(html.unescape(clean_text(body_html)).split())


def headings(body_html: str) -> list[dict]:
    """The body's H2–H6 headings in order: [{"level": 2, "text": "…"}]."""
    found = []
    for level, inner in _HEADING.findall(body_html or ""):
        text = html.unescape(clean_text(inner))
        if text:
            found.append({"level": int(level), "text": text})
    return found


def has_h1(body_html: str) -> bool:
    """Whether the body carries an H1 (the title is the page's only H1)."""
    return any(level == "1" for level, _inner in _HEADING.findall(body_html or ""))


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", (text or "").lower()).split())


def missing_headings(outline: list[dict], body_html: str) -> list[str]:
    """Outline headings the body does not carry (compared without case and punctuation)."""
    present = [_norm(h["text"]) for h in headings(body_html)]
    missing = []
    for item in outline or []:
        wanted = _norm(item.get("text", ""))
        if wanted and not any(wanted == p or wanted in p for p in present):
            missing.append(item.get("text", ""))
    return missing


def slugify(text: str, max_length: int = 120) -> str:
    """A URL slug: lowercase ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def _lines(body_html: str) -> list[str]:
    """The body split into one line per block element, for a line diff people can read."""
    text = _BLOCK_END.sub(lambda m: m.group(1) + "\n", (body_html or "").replace("\r", ""))
    return [line.strip() for line in text.split("\n") if line.strip()]


def diff(old: dict, new: dict) -> dict:
    """What changed between two versions: changed fields (before/after) and body lines (same/add/del)."""
    fields = []
    for name, label in (("title", "Title"), ("meta_title", "Meta title"),
                        ("meta_description", "Meta description"), ("slug", "Slug"), ("excerpt", "Excerpt")):
        if (old.get(name) or "") != (new.get(name) or ""):
            fields.append({"label": label, "before": old.get(name) or "", "after": new.get(name) or ""})
    before, after = _lines(old.get("body_html", "")), _lines(new.get("body_html", ""))
    rows = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            rows += [{"kind": "same", "text": line} for line in before[a1:a2]]
            continue
        rows += [{"kind": "del", "text": line} for line in before[a1:a2]]
        rows += [{"kind": "add", "text": line} for line in after[b1:b2]]
    added = sum(1 for r in rows if r["kind"] == "add")
    removed = sum(1 for r in rows if r["kind"] == "del")
    return {"fields": fields, "lines": rows, "added": added, "removed": removed,
            "changed": bool(fields or added or removed)}
