"""The connection doctor: ordered checks of a site's WordPress connection, each with the cause and
the fix in plain words when it fails."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable
from urllib.parse import urljoin, urlsplit

import httpx2

from app.services.publishing.wordpress import (
    WordPressClient, WordPressError, error_for, looks_like_app_password, rest_index, rest_link,
)

CHECKS = [
    ("reachable", "The address answers"),
    ("wordpress", "The site is WordPress"),
    ("rest_api", "The REST API answers with JSON"),
    ("redirects", "No redirect turns a POST into a GET"),
    ("app_passwords", "Application passwords are available"),
    ("credentials", "The user name and application password work"),
    ("authorization_header", "The Authorization header reaches WordPress"),
    ("capabilities", "The user may publish posts and pages, upload files and manage categories"),
]
TITLES = dict(CHECKS)
REQUIRED_CAPABILITIES = {"publish_posts": "publish posts", "publish_pages": "publish pages",
                         "upload_files": "upload files", "manage_categories": "manage categories"}
MAX_REDIRECTS = 5

FIX_FOR_REASON = {
    "timeout": "Open the site in a browser to see whether it is down or very slow; if it loads, ask the host "
               "whether a firewall delays requests from servers, then test again.",
    "tls": "Renew or repair the site's HTTPS certificate so it is valid for this exact host name and includes "
           "the intermediate certificates (for example with Let's Encrypt), then test again.",
    "connect": "Check the address for typos and whether the site is online; if it is, ask the host whether a "
               "firewall blocks requests from servers.",
    "network": "The connection broke off; test again in a minute. If it keeps happening, ask the host.",
    "server_error": "WordPress itself failed. Look at the site's PHP error log (or ask the host), fix the "
                    "error, then test again.",
    "rate_limited": "The host or a security plugin limits requests. Allow more requests from our server, "
                    "or wait a few minutes and test again.",
}
BLOCKED_FIX = ("A security plugin (Wordfence, iThemes/Solid Security, All In One WP Security, “Disable REST "
               "API”…) or a firewall/CDN rule blocks the WordPress REST API. Allow /wp-json/ (at least for "
               "signed-in users), then test again.")


@dataclass
class Check:
    key: str
    title: str
    status: str = "skipped"  # passed | failed | warning | skipped
    detail: str = ""
    cause: str = ""
    fix: str = ""

    def passed(self, detail: str) -> None:
        self.status, self.detail = "passed", detail

    def failed(self, cause: str, fix: str, detail: str = "") -> None:
        self.status, self.cause, self.fix, self.detail = "failed", cause, fix, detail

    def warned(self, cause: str, fix: str, detail: str = "") -> None:
        self.status, self.cause, self.fix, self.detail = "warning", cause, fix, detail


class _Stop(Exception):
    """The remaining checks cannot run."""


def _describe_redirect(source: str, target: str) -> str:
    a, b = urlsplit(source), urlsplit(target)
    changes = []
    if a.scheme != b.scheme:
        changes.append(f"from {a.scheme} to {b.scheme}")
    if a.hostname != b.hostname:
        changes.append(f"from {a.hostname} to {b.hostname}")
    return " and ".join(changes) or "to another path"


class Doctor:
    """Runs the checks in order against one site; later checks are skipped when an earlier one makes
    them meaningless."""

    def __init__(self, *, url: str, username: str | None, app_password: str | None, timeout: float = 15.0,
                 progress: Callable[[int, str], None] | None = None, http: httpx2.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.app_password = app_password
        self.client = WordPressClient(self.url, username, app_password, timeout=timeout, http=http)
        self.checks = {key: Check(key, title) for key, title in CHECKS}
        self.progress = progress or (lambda percent, message: None)
        self.base = self.url
        self.home: httpx2.Response | None = None
        self.redirects: list[str] = []
        self.index: dict = {}
        self.me: dict = {}

    def run(self) -> dict:
        """Every check in order; the outcome with overall health and a one-line summary."""
        steps = [("reachable", self._reachable), ("wordpress", self._wordpress_and_rest),
                 ("redirects", self._redirects), ("app_passwords", self._app_passwords),
                 ("credentials", self._credentials), ("capabilities", self._capabilities)]
        try:
            for number, (key, step) in enumerate(steps):
                self.progress(10 + number * 80 // len(steps), f"Checking: {TITLES[key].lower()}…")
                step()
        except _Stop:
            stopped_at = next((c.title for c in self.checks.values() if c.status == "failed"), "an earlier check")
            for check in self.checks.values():
                if check.status == "skipped" and not check.cause:
                    check.cause = f"Not checked because “{stopped_at}” failed."
        finally:
            self.client.close()
        return self.outcome()

    def outcome(self) -> dict:
        """Overall health, a one-line summary and every check."""
        checks = [asdict(check) for check in self.checks.values()]
        failed = [c for c in checks if c["status"] == "failed"]
        warned = [c for c in checks if c["status"] == "warning"]
        if failed:
            health = "failed"
            first = failed[0]
            summary = (f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed. "
                       f"First: {first['title']} — {first['cause']}")
        elif warned:
            health = "warning"
            summary = f"Connected, with {len(warned)} warning{'s' if len(warned) > 1 else ''}: {warned[0]['cause']}"
        else:
            health = "ok"
            summary = f"All {len(checks)} checks passed; ready to publish as {self.me.get('name') or self.username}."
        return {"health": health, "summary": summary, "checks": checks, "url": self.url,
                "rest_root": self.client.rest_root}

    def _fail_from_error(self, check: Check, exc: WordPressError) -> None:
        fix = FIX_FOR_REASON.get(exc.reason, "Test again; if it keeps failing, ask the site's host.")
        check.failed(exc.message, fix)
        raise _Stop

    def _get(self, check: Check, url: str, **kwargs) -> httpx2.Response:
        try:
            return self.client.fetch("GET", url, **kwargs)
        except WordPressError as exc:
            self._fail_from_error(check, exc)
            raise  # unreachable: _fail_from_error always stops

    def _follow(self, check: Check, url: str) -> httpx2.Response:
        """GET a URL, following (and recording) redirects the way a browser would."""
        response = self._get(check, url)
        hops = 0
        while response.is_redirect and hops < MAX_REDIRECTS:
            hops += 1
            target = urljoin(str(response.url), response.headers.get("location", ""))
            self.redirects.append(f"{response.url} → {target} (HTTP {response.status_code})")
            response = self._get(check, target)
        return response

    def _reachable(self) -> None:
        check = self.checks["reachable"]
        response = self._follow(check, self.url + "/")
        self.home = response
        self.base = str(response.url).rstrip("/")
        if response.status_code == 401:
            check.failed("The site asks for a password before showing anything (HTTP authentication), so "
                         "WordPress never sees our requests.",
                         "Remove the HTTP password protection (often on staging sites) or allow our server "
                         "through it, then test again.", detail=f"HTTP 401 from {self.base}/")
            raise _Stop
        error = error_for(response, expect_json=False)
        if error is not None and error.transient:
            self._fail_from_error(check, error)
        check.passed(f"{self.base}/ answered HTTP {response.status_code}.")

    def _wordpress_and_rest(self) -> None:
        site, rest = self.checks["wordpress"], self.checks["rest_api"]
        body = self.home.text[:200_000] if self.home is not None else ""
        link = rest_link(self.home) if self.home is not None else None
        signs = [name for name, found in (("a REST API Link header", bool(link)),
                                           ("wp-content paths", "/wp-content/" in body),
                                           ("wp-includes paths", "/wp-includes/" in body),
                                           ("a WordPress generator tag", 'content="WordPress' in body)) if found]
        candidates = ([(link, "the Link header")] if link else []) + [
            (self.base + "/wp-json/", "/wp-json/"), (self.base + "/?rest_route=/", "?rest_route=/")]
        seen = []
        for root, via in candidates:
            response = self._follow(rest, root)
            index = rest_index(response)
            if index is not None:
                # Requests go straight to where the redirects ended; the redirect check reports them.
                root = str(response.url)
                self.client.rest_root, self.index = root, index
                site.passed(f"WordPress site “{index.get('name', '')}”.")
                rest.passed(f"REST root {root} (found through {via}).")
                return
            error = error_for(response)
            if error is not None and error.transient:
                self._fail_from_error(rest, error)
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            seen.append(f"{via} answered HTTP {response.status_code} ({kind})")
        observed = "; ".join(seen) or "no REST address answered"
        if signs:
            site.passed(f"The home page shows {', '.join(signs)}.")
            rest.failed(f"The REST API is blocked: {observed}.", BLOCKED_FIX, detail=observed)
        else:
            site.failed("No sign of WordPress: the home page has no REST API link or WordPress paths, and "
                        f"{observed}.",
                        "Check that the address is the WordPress site's (include the folder if WordPress lives "
                        "in one, like https://example.com/blog). If it is WordPress, its REST API is blocked: "
                        + BLOCKED_FIX, detail=observed)
            rest.cause = "Not checked because the site does not look like WordPress."
        raise _Stop

    def _redirects(self) -> None:
        check = self.checks["redirects"]
        if not self.redirects:
            check.passed("No redirects.")
            return
        first_source, first_target = self.redirects[0].split(" → ", 1)
        how = _describe_redirect(first_source, first_target.rsplit(" (HTTP", 1)[0])
        if self.base != self.url:
            fix = f"Use {self.base} as the WordPress address in the connection settings."
        else:
            fix = (f"Make {first_source} answer without a redirect: look at redirect rules in plugins, the "
                   "server configuration or the CDN, and at the WordPress and site addresses in Settings → "
                   "General.")
        what = "The address" if self.base != self.url else "The REST API address"
        check.failed(f"{what} redirects {how}. Browsers follow that, but a redirected POST arrives as a GET "
                     "(and loses its sign-in), so posts and images would not be created.", fix,
                     detail="; ".join(self.redirects))

    def _app_passwords(self) -> None:
        check = self.checks["app_passwords"]
        if "application-passwords" in (self.index.get("authentication") or {}):
            check.passed("WordPress offers application passwords.")
            return
        if urlsplit(self.base).scheme == "http":
            check.failed("WordPress offers application passwords only over HTTPS (or on a site marked as a "
                         "local/development one), and this site uses plain http.",
                         "Serve the site over HTTPS and enter its https:// address here. For a development "
                         "site, define('WP_ENVIRONMENT_TYPE', 'local') in wp-config.php.")
        else:
            check.failed("Application passwords are switched off on this site (by a security plugin or a "
                         "filter), or WordPress is older than 5.6.",
                         "Update WordPress to 5.6 or newer and turn application passwords back on in the "
                         "security plugin's settings; then create one in Users → Profile.")

    def _credentials(self) -> None:
        check, header = self.checks["credentials"], self.checks["authorization_header"]
        if not (self.username and self.app_password):
            check.failed("No user name or application password is saved for this site.",
                         "Enter the WordPress user name and an application password in the connection form.")
            raise _Stop
        try:
            self.me = self.client.me()
        except WordPressError as exc:
            if exc.status != 401:
                self._fail_from_error(check, exc)
            self._rejected(check, header, exc)
            raise _Stop
        roles = ", ".join(self.me.get("roles") or []) or "no role"
        check.passed(f"Signed in as {self.me.get('name') or self.username} ({roles}).")
        header.passed("WordPress received the credentials.")

    def _rejected(self, check: Check, header: Check, exc: WordPressError) -> None:
        code = exc.wp_code or "HTTP 401"
        if not looks_like_app_password(self.app_password):
            check.failed("WordPress did not accept these credentials, and the password does not look like an "
                         "application password (24 letters and digits, shown in groups of four). The normal "
                         "login password is never accepted for publishing.",
                         "In WordPress open Users → Profile → Application Passwords, add one named “IGNY8”, "
                         "and paste the password it shows here.", detail=code)
            header.cause = "Not checked because the password is not an application password."
            return
        check.failed(f"WordPress answered as if no credentials had been sent ({code}).",
                     "Check the user name (the e-mail works too) and that this application password was not "
                     "revoked in Users → Profile → Application Passwords. If both are right, see the next "
                     "check.", detail=code)
        header.failed("The password has the shape of an application password, yet WordPress saw no sign-in. "
                      "Unless the password is wrong or revoked, the web server removes the Authorization "
                      "header before WordPress sees it (common when PHP runs as CGI/FastCGI).",
                      "On Apache, add this line to .htaccess above the WordPress rules: "
                      "SetEnvIf Authorization \"(.*)\" HTTP_AUTHORIZATION=$1 — on nginx with PHP-FPM add "
                      "fastcgi_param HTTP_AUTHORIZATION $http_authorization; — or ask the host to pass the "
                      "Authorization header to PHP. Then test again.", detail=code)

    def _capabilities(self) -> None:
        check = self.checks["capabilities"]
        capabilities = self.me.get("capabilities")
        name = self.me.get("name") or self.username
        if not isinstance(capabilities, dict):
            check.warned("WordPress did not list the user's capabilities, so we could not check them.",
                         "Make sure the user has the Editor or Administrator role.")
            return
        missing = [label for cap, label in REQUIRED_CAPABILITIES.items() if not capabilities.get(cap)]
        if missing:
            roles = ", ".join(self.me.get("roles") or []) or "no role"
            check.failed(f"The user “{name}” (role: {roles}) may not {', '.join(missing)}.",
                         f"In WordPress open Users → All Users → {name} and give the Editor or Administrator "
                         "role (or grant the missing capabilities with a role editor plugin), then test again.",
                         detail="missing: " + ", ".join(missing))
            return
        check.passed("May publish posts and pages, upload files and manage categories.")


def run_doctor(*, url: str, username: str | None, app_password: str | None, timeout: float = 15.0,
               progress: Callable[[int, str], None] | None = None, http: httpx2.Client | None = None) -> dict:
    """Run every connection check in order and return the outcome (health, summary, checks)."""
    return Doctor(url=url, username=username, app_password=app_password, timeout=timeout, progress=progress,
                  http=http).run()
