"""Prompt templates per AI function: the account's override, else the platform default, else the built-in.

Templates are user input, so they are not Jinja: a placeholder is a variable name in braces, like
{keywords}, and a literal brace is typed twice ({{ or }}). Rendering only substitutes text.
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import PromptDefault, PromptOverride
from app.services.ai.prompt_library import FUNCTIONS, PromptFunction, Variable
from app.services.ai.voice import POINTS_OF_VIEW, READING_LEVELS, profile_text, strategy_text

__all__ = ["FUNCTIONS", "PromptFunction", "Variable", "get_function", "get_template", "profile_text",
           "render", "render_body", "reset_override", "reset_platform_default", "save_override", "save_platform_default",
           "strategy_text", "validate", "POINTS_OF_VIEW", "READING_LEVELS"]

MAX_TEMPLATE_CHARS = 20_000
SOURCES = ("account", "platform", "built-in")
SOURCE_LABELS = {"account": "Your account", "platform": "Platform default", "built-in": "Built-in"}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
BRACE_HELP = ("Variables are written like {keywords}; to write a literal brace (for example in a JSON "
              "example), type it twice: {{ or }}.")



class _Unbalanced(Exception):
    def __init__(self, position: int) -> None:
        self.position = position


def get_function(function: str) -> PromptFunction:
    """The prompt side of an AI function, or NotFound."""
    try:
        return FUNCTIONS[function]
    except KeyError:
        raise NotFound(f"There is no prompt for an AI function called {function!r}.") from None


def _parts(body: str) -> list[tuple[str, str]]:
    """("text", s) and ("var", name) pieces; raises _Unbalanced at a brace without a partner."""
    parts, text, i = [], [], 0
    while i < len(body):
        char = body[i]
        if char in "{}" and body.startswith(char * 2, i):
            text.append(char)
            i += 2
        elif char == "{":
            end, next_open = body.find("}", i + 1), body.find("{", i + 1)
            if end == -1 or (next_open != -1 and next_open < end):
                raise _Unbalanced(i)
            parts += [("text", "".join(text)), ("var", body[i + 1:end].strip())]
            text, i = [], end + 1
        elif char == "}":
            raise _Unbalanced(i)
        else:
            text.append(char)
            i += 1
    parts.append(("text", "".join(text)))
    return parts


def validate(function: str, body: str) -> str:
    """The template with tidy line endings, or a ValidationError (field "body") saying what to fix."""
    spec = get_function(function)
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise ValidationError("Write the prompt; it cannot be empty. “Reset to default” brings back the default.",
                              field="body")
    if len(body) > MAX_TEMPLATE_CHARS:
        raise ValidationError(f"Keep the prompt under {MAX_TEMPLATE_CHARS:,} characters (it has {len(body):,}).",
                              field="body")
    try:
        parts = _parts(body)
    except _Unbalanced as exc:
        near = body[max(0, exc.position - 15):exc.position + 15].replace("\n", " ")
        raise ValidationError(f"Unbalanced braces near “{near}”. {BRACE_HELP}", field="body") from None
    available = ", ".join("{" + name + "}" for name in spec.variable_names)
    for kind, name in parts:
        if kind != "var":
            continue
        if not name:
            raise ValidationError(f"Empty braces {{}} name no variable. Available: {available}. {BRACE_HELP}",
                                  field="body")
        if name not in spec.variable_names:
            hint = "" if _NAME.match(name) else f" {BRACE_HELP}"
            raise ValidationError(f"Unknown variable {{{name}}}. Available: {available}.{hint}", field="body")
    return body


def _substitute(body: str, values: dict) -> str:
    out = []
    for kind, piece in _parts(body):
        if kind == "text":
            out.append(piece)
        else:
            value = values.get(piece)
            out.append("" if value is None else str(value))
    return "".join(out)


def _override(function: str) -> PromptOverride | None:
    # Tenancy limits this to the bound account; with no account bound there is no override.
    return db.session.scalars(select(PromptOverride).where(PromptOverride.function == function)).first()


def get_template(function: str) -> tuple[str, str]:
    """(body, source): the template in effect and where it comes from ("account", "platform", "built-in")."""
    spec = get_function(function)
    override = _override(function)
    if override is not None:
        return override.body, "account"
    platform = db.session.get(PromptDefault, function)
    if platform is not None:
        return platform.body, "platform"
    return spec.default, "built-in"


def platform_template(function: str) -> tuple[str, str]:
    """(body, source) of the platform level alone: the operator's edit or the built-in."""
    spec = get_function(function)
    platform = db.session.get(PromptDefault, function)
    return (platform.body, "platform") if platform is not None else (spec.default, "built-in")


def render_body(spec: PromptFunction, body: str, values: dict) -> str:
    try:
        text = _substitute(body, values)
    except _Unbalanced:
        # Only rows written around validation could get here; the built-in keeps the function working.
        current_app.logger.warning("Stored prompt for %s has unbalanced braces; using the built-in", spec.name)
        text = _substitute(spec.default, values)
    return f"{text.strip()}\n\n{spec.contract}"


def render(function: str, variables: dict) -> str:
    """The system message: the template in effect with the variables filled in, then the answer contract."""
    spec = get_function(function)
    body, _source = get_template(function)
    return render_body(spec, body, variables)


def save_override(function: str, body: str, user=None) -> PromptOverride:
    """Save the bound account's own template for a function (replacing an earlier one)."""
    body = validate(function, body)
    override = _override(function)
    if override is None:
        override = PromptOverride(function=function, body=body)
        db.session.add(override)
    override.body = body
    override.updated_by_id = getattr(user, "id", None)
    db.session.commit()
    return override


def reset_override(function: str) -> bool:
    """Drop the bound account's template, so the platform default applies again; False if there was none."""
    get_function(function)
    override = _override(function)
    if override is None:
        return False
    db.session.delete(override)
    db.session.commit()
    return True


def save_platform_default(function: str, body: str, user=None) -> PromptDefault:
    """Operators: save the platform's template, used by every account without an override."""
    from app.services import audit

    body = validate(function, body)
    row = db.session.get(PromptDefault, function)
    if row is None:
        row = PromptDefault(function=function, body=body)
        db.session.add(row)
    row.body = body
    row.updated_by_id = getattr(user, "id", None)
    audit.record("operator.prompt_default_saved", actor_id=row.updated_by_id, account_id=None, function=function)
    db.session.commit()
    return row


def reset_platform_default(function: str, user=None) -> bool:
    """Operators: go back to the built-in template; False if it was not edited."""
    from app.services import audit

    get_function(function)
    row = db.session.get(PromptDefault, function)
    if row is None:
        return False
    db.session.delete(row)
    audit.record("operator.prompt_default_reset", actor_id=getattr(user, "id", None), account_id=None,
                 function=function)
    db.session.commit()
    return True
