"""Untrusted model output: JSON parsed and checked against a schema, HTML sanitized by an allow-list."""

from __future__ import annotations

import html
import json

import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "blockquote",
    "ul", "ol", "li", "a", "img", "figure", "figcaption", "table", "thead", "tbody", "tfoot", "tr", "th",
    "td", "caption", "code", "pre", "span", "sup", "sub", "dl", "dt", "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}


class OutputError(ValueError):
    """The model's answer does not have the required shape; the message says where."""


def sanitize_html(html: str) -> str:
    """Model HTML reduced to an allow-list: no scripts, no event handlers, no javascript: URLs."""
    return nh3.clean(html or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def clean_text(text: str) -> str:
    """Plain text from the model: every tag removed, whitespace tidied, stored as text (not HTML).

    nh3 answers HTML, so its entities are turned back into characters: "Tea & Coffee" is stored as
    such and escaped once, when a template shows it.
    """
    return " ".join(html.unescape(nh3.clean(text or "", tags=set(), attributes={})).split())


def parse_json(text: str, schema: dict) -> object:
    """Parse and check an answer; raises OutputError with a message the model (and a person) can act on."""
    cleaned = (text or "").strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise OutputError(f"The answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).") from None
    check_schema(data, schema)
    return data


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}


def check_schema(value: object, schema: dict, path: str = "$") -> None:
    """Check a value against a small JSON-schema subset (type, properties, required, items, enum, lengths)."""
    expected = schema.get("type")
    if expected:
        python_type = _TYPES[expected]
        is_bool = isinstance(value, bool)
        if not isinstance(value, python_type) or (is_bool and expected in ("integer", "number")):
            raise OutputError(f"{path} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}.")
    if "enum" in schema and value not in schema["enum"]:
        raise OutputError(f"{path} must be one of: {', '.join(map(str, schema['enum']))} (got {value!r}).")
    if isinstance(value, str):
        if len(value.strip()) < schema.get("minLength", 0):
            raise OutputError(f"{path} must not be empty." if schema.get("minLength") == 1
                              else f"{path} must have at least {schema['minLength']} characters.")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise OutputError(f"{path} must have at most {schema['maxLength']} characters.")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                raise OutputError(f"{path} is missing the field {name!r}.")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check_schema(value[name], sub, f"{path}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise OutputError(f"{path} must have at least {schema['minItems']} items.")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise OutputError(f"{path} must have at most {schema['maxItems']} items.")
        for index, item in enumerate(value):
            check_schema(item, schema.get("items", {}), f"{path}[{index}]")
