"""The real WordPress on loopback that scripts/wordpress/setup installs, for publishing tests.

Outside CI, tests that need it are skipped while it is not installed. In CI (CI=true) they fail
instead: .ci/run installs it, so its absence is a broken setup, not a reason to skip."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

CREDENTIALS_FILE = Path(os.environ.get("IGNY8_WP_CREDENTIALS", "/var/lib/igny8-wordpress/credentials.json"))


@dataclass(frozen=True)
class WordPressUser:
    username: str
    email: str
    password: str  # the login password (never accepted over REST)
    app_password: str


@dataclass(frozen=True)
class RealWordPress:
    url: str
    admin: WordPressUser  # an administrator
    no_publish: WordPressUser  # an editor without publish_posts / publish_pages


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _user(data: dict) -> WordPressUser:
    return WordPressUser(username=data["username"], email=data["email"], password=data["password"],
                         app_password=data["app_password"])


@pytest.fixture(scope="session")
def real_wordpress() -> RealWordPress:
    """URL and users of the loopback WordPress."""
    if not CREDENTIALS_FILE.exists():
        reason = (f"The loopback WordPress is not installed ({CREDENTIALS_FILE} is missing); "
                  "run scripts/wordpress/setup as root to install it.")
        if _in_ci():
            pytest.fail(reason + " In CI, .ci/run must install it.", pytrace=False)
        pytest.skip(reason)
    data = json.loads(CREDENTIALS_FILE.read_text())
    try:
        response = httpx2.get(data["url"] + "/wp-json/", timeout=15)
        answering = response.status_code == 200 and "namespaces" in response.json()
    except (httpx2.HTTPError, ValueError):
        answering = False
    if not answering:
        pytest.fail(f"WordPress is installed but does not answer at {data['url']}/wp-json/; "
                    "run scripts/wordpress/setup to start it.", pytrace=False)
    return RealWordPress(url=data["url"], admin=_user(data["admin"]), no_publish=_user(data["no_publish"]))
