"""Where the publishing code gets its HTTP client: the SSRF-guarded client of app/services/outbound.py."""

from __future__ import annotations

import httpx2

from app.services import outbound

USER_AGENT = "IGNY8 publisher (+https://igny8.example.com)"


def http_client(*, timeout: float) -> httpx2.Client:
    """An HTTP client for requests to a customer's WordPress site: private, loopback and metadata addresses
    are refused after DNS on every connection (unless the operator allows them); redirects are never followed."""
    return outbound.guarded_client(timeout=timeout, user_agent=USER_AGENT)
