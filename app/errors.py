"""Domain errors and how they become HTTP responses."""

from __future__ import annotations

from flask import Flask, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.htmx import is_htmx


class DomainError(Exception):
    """A use-case refused; the message is shown to the user as is."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, link: str | None = None,
                 link_label: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.link = link
        self.link_label = link_label


class ValidationError(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404

    def __init__(self, message: str = "That page does not exist or you do not have access to it.", **kw) -> None:
        super().__init__(message, **kw)


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class ModuleDisabled(Forbidden):
    """The account has turned the module off."""


class RateLimited(DomainError):
    status_code = 429


class InsufficientCredits(DomainError):
    """Not enough credits; nothing was started or charged."""

    status_code = 402

    def __init__(self, *, needed: int, available: int, what: str = "this") -> None:
        super().__init__(
            f"Not enough credits for {what}: it needs about {needed} and you have {available}. "
            "Nothing was started or charged.",
            link="/billing/buy",
            link_label="Buy credits",
        )
        self.needed = needed
        self.available = available


TITLES = {
    400: "Bad request",
    402: "Not enough credits",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "File too large",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong",
}


def error_response(status: int, message: str, link: str | None = None, link_label: str | None = None):
    """A flash fragment for htmx, a branded page otherwise."""
    title = TITLES.get(status, "Error")
    if is_htmx():
        response = make_response(
            render_template("shared/_flash_message.html", level="error", message=message,
                            link=link, link_label=link_label), status
        )
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    return make_response(
        render_template(template, status=status, title=title, message=message, link=link,
                        link_label=link_label), status
    )


def register_error_handlers(app: Flask) -> None:
    """Map domain and HTTP errors to pages or flash fragments."""

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        return error_response(exc.status_code, exc.message, exc.link, exc.link_label)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):
        return error_response(
            400, "Your form expired or was not sent from IGNY8. Reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        if request.path.startswith("/static/"):
            return exc
        messages = {
            404: "That page does not exist or you do not have access to it.",
            403: "You do not have permission to do that.",
            405: "That action is not available here.",
            413: "That file is larger than the upload limit.",
            429: "Too many attempts. Wait a little and try again.",
        }
        return error_response(exc.code or 500, messages.get(exc.code, exc.description or ""))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        app.logger.exception("Unhandled error on %s", request.path)
        from app.extensions import db

        db.session.rollback()
        return error_response(
            500, "An unexpected error happened. It has been logged; please try again."
        )
