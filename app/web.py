"""Template context, navigation and response headers shared by every page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, g, render_template, request, url_for
from flask_login import current_user

from app.modules import MODULE_LABELS
from app.permissions import can

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# The RQ dashboard (operators only) ships inline scripts and compiles its underscore templates with
# `new Function`, so its blueprint alone gets 'unsafe-inline' and 'unsafe-eval'.
RQ_DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
BLUEPRINT_CSP = {"rq_dashboard": RQ_DASHBOARD_CSP}

# Navigation: (label, endpoint, module or None, ability).
NAV_ITEMS = [
    ("Dashboard", "main.dashboard", None, "read"),
    ("Sites", "sites.index", None, "read"),
    *[(label, f"{name}.index", name, "read") for name, label in MODULE_LABELS.items()],
    ("Jobs", "jobs.index", None, "read"),
]
SETTINGS_ITEMS = [
    ("Profile", "settings.profile", "read"),
    ("Users", "settings.users", "manage_users"),
    ("Modules", "settings.modules", "settings"),
    ("Billing", "billing.index", "read"),
]


def navigation() -> list[dict]:
    """The sidebar for the current person: by role and by enabled modules."""
    account = g.get("account")
    if account is None:
        return []
    items = []
    for label, endpoint, module, ability in NAV_ITEMS:
        if module and not account.module_enabled(module):
            continue
        if not can(ability):
            continue
        items.append(
            {
                "label": label,
                "url": url_for(endpoint),
                "active": request.endpoint is not None
                and request.endpoint.split(".")[0] == endpoint.split(".")[0],
                "module": module,
            }
        )
    return items


def _same_section(endpoint: str) -> bool:
    """Settings links share the settings blueprint; other links light up for their whole blueprint."""
    current = request.endpoint or ""
    if endpoint.startswith("settings."):
        return current == endpoint
    return current.split(".")[0] == endpoint.split(".")[0]


def settings_navigation() -> list[dict]:
    """Account settings links the current role may open."""
    return [
        {"label": label, "url": url_for(endpoint), "active": _same_section(endpoint)}
        for label, endpoint, ability in SETTINGS_ITEMS
        if can(ability)
    ]


def safe_next(target: str | None, fallback: str, *, within: str = "/") -> str:
    """A `next` address only if it stays on this site (a path under `within`), else the fallback.

    Every view that redirects to a `next` given in a request goes through here, so no form or link can
    send a person to another host (`https://evil.example/`, `//evil.example`, `/\\evil.example`).
    """
    if not target or not isinstance(target, str):
        return fallback
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if not target.startswith(within):
        return fallback
    return target


_ID_SENTINEL = 2147483646


def id_url(endpoint: str, name: str):
    """Addresses of one endpoint for many ids (`id_url(endpoint, "cluster_id")(7)`), as url_for gives them:
    the route is built once and each id put in its place, for tables that link every row."""
    head, _, tail = url_for(endpoint, **{name: _ID_SENTINEL}).partition(str(_ID_SENTINEL))
    return lambda value: f"{head}{int(value)}{tail}"


def format_number(value) -> str:
    """Thousands separators wherever a count or an amount is shown (`{{ n|number }}`); None shows as a dash."""
    if value is None or value == "":
        return "—"
    try:
        return f"{value:,}"
    except (TypeError, ValueError):
        return str(value)


def _live_available(model_type: str = "text") -> bool:
    from app.services.ai.catalogue import live_available

    return live_available(model_type)


def _switcher_sites():
    from app.services.accounts.sites import switcher_sites

    return switcher_sites()


def _switcher():
    """The header's site and sector switcher, stored with the account's pages (app.page_cache): one copy for
    every page (its "next" address is filled in for each request)."""
    from app import page_cache

    return page_cache.part("switcher", lambda: render_template("shared/_switcher.html"), shared=True)


def _new_submit_token() -> str:
    from app import page_cache
    from app.services.jobs import new_submit_token

    return page_cache.SUBMIT_PLACEHOLDER if page_cache.rendering() else new_submit_token()


def install(app: Flask) -> None:
    """Bounded URL numbers, context processor and security headers."""
    from flask_compress import Compress

    from app import params

    params.install(app)
    # Pages, fragments, CSS, JS and JSON are sent brotli- or gzip-compressed when the client accepts it;
    # static files (sent as streams) are compressed as they stream, with brotli, zstd or deflate.
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/html", "text/css", "text/plain", "application/javascript",
                                                 "text/javascript", "application/json", "image/svg+xml"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    Compress(app)
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.globals["id_url"] = id_url

    app.jinja_env.globals["new_submit_token"] = _new_submit_token  # a global: macros see it too

    @app.context_processor
    def inject():
        return {
            "can": can,
            "nav_items": navigation,
            "settings_items": settings_navigation,
            "account": g.get("account"),
            "role": g.get("role"),
            "acting_as": g.get("acting_as"),
            "active_site": g.get("active_site"),
            "active_sector": g.get("active_sector"),
            "is_operator": current_user.is_authenticated and current_user.is_operator,
            "switcher_sites": _switcher_sites,
            "switcher": _switcher,
            "live_available": _live_available,
        }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        csp = BLUEPRINT_CSP.get(request.blueprint or "", CSP)
        response.headers.setdefault("Content-Security-Policy", csp)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if request.headers.get("HX-Request") or response.mimetype == "text/html":
            response.vary.add("HX-Request")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
