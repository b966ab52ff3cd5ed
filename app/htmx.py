"""Small helpers for answering htmx requests."""

from __future__ import annotations

import json

from flask import Response, make_response, request


def is_htmx() -> bool:
    """True when htmx (not a plain navigation) made this request."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def hx_redirect(url: str) -> Response:
    """Send htmx to another page (a 302 would be followed inside the swap)."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url
    return response


def hx_refresh() -> Response:
    """Ask htmx to reload the current page."""
    response = make_response("", 204)
    response.headers["HX-Refresh"] = "true"
    return response


def hx_trigger(response: Response, event: str, detail: object = None) -> Response:
    """Add a client-side event to the response."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing and existing.startswith("{") else {}
    if existing and not existing.startswith("{"):
        events[existing] = None
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def stop_polling(response: Response) -> Response:
    """Status 286 tells htmx to stop polling the element."""
    response.status_code = 286
    return response


def add_vary(response: Response) -> Response:
    """Pages that answer htmx with a fragment must vary on HX-Request."""
    response.vary.add("HX-Request")
    return response
