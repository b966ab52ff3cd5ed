"""Shared form helpers."""

from __future__ import annotations

from flask import make_response, render_template
from flask_wtf import FlaskForm

from app.errors import DomainError


def attach_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error next to the field it names, or above the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)


def invalid(template: str, status: int = 422, **context):
    """Render a form again with its errors and status 422."""
    return make_response(render_template(template, **context), status)
