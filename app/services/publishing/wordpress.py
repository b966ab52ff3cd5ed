"""A WordPress REST API client: finds the REST root, signs in with an application password, and
sorts failures into transient (retry later) and permanent (a person must fix something)."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx2

from app.services import outbound
from app.services.publishing.transport import http_client

DEFAULT_TIMEOUT = 20.0
LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?https://api\.w\.org/"?')
# What WordPress shows when it creates an application password: 24 letters and digits, often in
# groups of four separated by spaces.
# 5xx answers that are WordPress refusing the request, not failing: retrying sends the same refused file.
PERMANENT_5XX_CODES = {"rest_upload_sideload_error"}  # e.g. "Sorry, you are not allowed to upload this file type."
APP_PASSWORD_RE = re.compile(r"^[A-Za-z0-9]{4}( ?[A-Za-z0-9]{4}){5}$")


class WordPressError(Exception):
    """A request to WordPress failed; `reason` names the kind of failure in one word."""

    transient = False

    def __init__(self, message: str, *, reason: str, status: int | None = None, wp_code: str | None = None,
                 location: str | None = None, retry_after: float | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status
        self.wp_code = wp_code
        self.location = location
        self.retry_after = retry_after
        self.data = data if isinstance(data, dict) else None  # WordPress's JSON error body, when it sent one


class TransientError(WordPressError):
    """Worth retrying later: timeouts, connection failures, 5xx answers, 429 rate limits."""

    transient = True


class PermanentError(WordPressError):
    """Retrying will not help until someone changes something: credentials, rights, the request."""


@dataclass
class Discovery:
    """Where the REST API of a site lives and what its index said."""

    rest_root: str
    via: str
    index: dict = field(default_factory=dict)

    @property
    def application_passwords(self) -> bool:
        return "application-passwords" in (self.index.get("authentication") or {})


def looks_like_app_password(password: str | None) -> bool:
    """Whether a password has the shape of a WordPress application password."""
    return bool(password) and bool(APP_PASSWORD_RE.match(password.strip()))


def rest_link(response: httpx2.Response) -> str | None:
    """The REST root a WordPress page advertises in its Link header, if any."""
    for value in response.headers.get_list("link"):
        match = LINK_RE.search(value)
        if match:
            return urljoin(str(response.url), match.group(1))
    return None


def rest_index(response: httpx2.Response) -> dict | None:
    """The REST index when the answer is one (JSON with WordPress's wp/v2 namespace), else None."""
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and "wp/v2" in (data.get("namespaces") or []):
        return data
    return None


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE" in str(seen).upper() or "SSL" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _json_or_none(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx2.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def error_for(response: httpx2.Response, *, expect_json: bool = True) -> WordPressError | None:
    """The error an answer stands for, or None when it is a usable success."""
    status = response.status_code
    where = f"{response.request.method} {response.url}"
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return PermanentError(f"WordPress redirected {where} to {location or 'another address'} (HTTP {status}).",
                              reason="redirect", status=status, location=location)
    data = _json_or_none(response)
    wp_code = data.get("code") if isinstance(data, dict) else None
    wp_message = data.get("message") if isinstance(data, dict) else None
    detail = f"HTTP {status}" + (f" {wp_code}" if wp_code else "") + (f": {wp_message}" if wp_message else "")
    if status == 429:
        return TransientError(f"WordPress asked us to slow down ({detail}).", reason="rate_limited",
                              status=status, wp_code=wp_code, retry_after=_retry_after(response))
    if status >= 500 and wp_code in PERMANENT_5XX_CODES:
        return PermanentError(f"WordPress refused {where} ({detail}).", reason="rejected", status=status,
                              wp_code=wp_code, data=data)
    if status >= 500:
        return TransientError(f"WordPress had a server error ({detail}).", reason="server_error",
                              status=status, wp_code=wp_code, retry_after=_retry_after(response))
    if status >= 400:
        reason = {401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "too_large"}.get(status, "rejected")
        if data is None and status in (403, 404):
            reason = "blocked"  # an HTML page where WordPress would answer JSON: a firewall or plugin
        return PermanentError(f"WordPress refused {where} ({detail}).", reason=reason, status=status,
                              wp_code=wp_code, data=data)
    if expect_json and data is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return PermanentError(f"{where} answered {kind} instead of JSON; something in front of WordPress "
                              "(a security plugin, firewall or cache) replaced the REST answer.",
                              reason="not_json", status=status)
    return None


class WordPressClient:
    """One site's REST API, signed in as one user with an application password."""

    def __init__(self, base_url: str, username: str | None = None, app_password: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, rest_root: str | None = None,
                 http: httpx2.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.rest_root = rest_root
        self._http = http or http_client(timeout=timeout)
        self._auth = httpx2.BasicAuth(username, app_password.strip()) if username and app_password else None

    def __enter__(self) -> WordPressClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def fetch(self, method: str, url: str, *, auth: bool = False, headers: dict | None = None,
              **kwargs) -> httpx2.Response:
        """Send one request (never following redirects); network failures become WordPressError."""
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "expect"}
        try:
            return self._http.request(method, url, headers=headers, auth=self._auth if auth else None, **kwargs)
        except outbound.DestinationRefused as exc:
            raise PermanentError(exc.message, reason="refused") from exc
        except outbound.FetchFailed as exc:
            raise PermanentError(exc.message, reason="connect") from exc
        except httpx2.TimeoutException as exc:
            raise TransientError(f"{url} did not answer within {self.timeout:g} seconds.", reason="timeout") from exc
        except httpx2.ConnectError as exc:
            if _is_tls_failure(exc):
                raise PermanentError(f"The HTTPS certificate of {url} could not be verified ({exc}).",
                                     reason="tls") from exc
            raise TransientError(f"Could not connect to {url} ({exc}).", reason="connect") from exc
        except httpx2.TransportError as exc:
            raise TransientError(f"The connection to {url} failed ({type(exc).__name__}: {exc}).",
                                 reason="network") from exc

    def discover(self) -> Discovery:
        """Find the REST root: the home page's Link header, then /wp-json/, then ?rest_route=/."""
        home = self.fetch("GET", self.base_url + "/")
        candidates = [(link, "Link header") for link in [rest_link(home)] if link]
        candidates += [(self.base_url + "/wp-json/", "/wp-json/"), (self.base_url + "/?rest_route=/", "?rest_route=/")]
        last_error: WordPressError | None = None
        for root, via in candidates:
            response = self.fetch("GET", root)
            index = rest_index(response)
            if index is not None:
                self.rest_root = root
                return Discovery(rest_root=root, via=via, index=index)
            last_error = error_for(response) or last_error
        raise PermanentError(f"No WordPress REST API was found at {self.base_url}"
                             + (f" ({last_error.message})" if last_error else "."), reason="no_rest_api")

    def route_url(self, route: str, params: dict | None = None) -> tuple[str, dict]:
        """The URL and query parameters of a REST route such as /wp/v2/posts."""
        if self.rest_root is None:
            self.discover()
        params = dict(params or {})
        root = self.rest_root or ""
        if "rest_route=" in root:
            return root.split("?", 1)[0], {"rest_route": route, **params}
        return root.rstrip("/") + route, params

    def request(self, method: str, route: str, *, params: dict | None = None, json: Any = None,
                content: bytes | None = None, headers: dict | None = None) -> Any:
        """Call a REST route signed in; the decoded JSON answer, or a WordPressError."""
        url, query = self.route_url(route, params)
        response = self.fetch(method, url, auth=True, params=query, json=json, content=content, headers=headers)
        error = error_for(response)
        if error is not None:
            raise error
        return response.json()

    def me(self) -> dict:
        """The signed-in user with roles and capabilities."""
        return self.request("GET", "/wp/v2/users/me", params={"context": "edit"})

    def upload_media(self, data: bytes, *, filename: str, content_type: str, fields: dict | None = None) -> dict:
        """Upload a file to the media library from raw bytes; `fields` (alt_text, caption, title) go in the
        query string of the same request, which WordPress applies when it creates the attachment."""
        safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
        return self.request("POST", "/wp/v2/media", params=fields, content=data, headers={
            "Content-Type": content_type, "Content-Disposition": f'attachment; filename="{safe_name}"'})
