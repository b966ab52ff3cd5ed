"""Requests to customer-given URLs (site checks, WordPress publishing), safe from SSRF.

A customer types the URL, so a request to it must never reach our own network: every connection
resolves the host once, refuses loopback, private, link-local, carrier-grade NAT, multicast, reserved,
unspecified, IPv4-mapped and cloud-metadata addresses, and then connects to the very address it
checked (no second lookup an attacker's DNS could answer differently). Redirects are not followed
blindly: each hop is a new request through the same check, and the number of hops is capped.

Operators may allow private addresses (`OUTBOUND_ALLOW_PRIVATE_ADDRESSES`, on in development and
tests) or a few private networks (`OUTBOUND_ALLOWED_NETWORKS`, e.g. an intranet WordPress).
Cloud-metadata addresses are refused whatever the settings say.
"""

from __future__ import annotations

import ipaddress
import ssl
import json
import socket
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

import httpcore2
import httpx2
from flask import current_app, has_app_context

from app.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "IGNY8 (+https://igny8.example.com)"

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
    "169.254.170.2",  # AWS ECS task metadata
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure host services (a public address)
))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(DomainError):
    """A customer URL could not be used; the message says why in plain words."""

    transient = False  # worth retrying later (timeouts, refused connections)


class DestinationRefused(OutboundError):
    """The URL points inside a private network (or somewhere else we never connect to)."""


class FetchFailed(OutboundError):
    """The request was allowed but did not get an answer."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Response:
    """What a customer URL answered (the body is capped)."""

    status: int
    headers: httpx2.Headers
    body: bytes
    url: str
    elapsed_ms: int
    redirects: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    def json(self):
        """The body parsed as JSON (ValueError when it is not)."""
        return json.loads(self.body or b"null")


def refusal_reason(ip: IPAddress) -> str | None:
    """Why an address is not on the public internet, or None for a public unicast address."""
    if _is_metadata(ip):
        return "a cloud metadata address"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None) or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        if embedded is not None and (reason := refusal_reason(embedded)):
            return reason
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.version == 4 and ip in CGNAT, "a carrier-grade NAT address"),
        (ip.is_private, "a private network address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "an address that is not on the public internet"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _is_metadata(ip: IPAddress) -> bool:
    mapped = ip.ipv4_mapped if ip.version == 6 else None
    return ip in METADATA_ADDRESSES or (mapped is not None and mapped in METADATA_ADDRESSES)


@dataclass(frozen=True)
class Policy:
    """Which non-public addresses this installation may contact."""

    allow_private: bool = False
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_config(cls) -> Policy:
        """The operator's settings (nothing private allowed outside an app context)."""
        if not has_app_context():
            return cls()
        config = current_app.config
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in config.get("OUTBOUND_ALLOWED_NETWORKS") or ())
        return cls(allow_private=bool(config.get("OUTBOUND_ALLOW_PRIVATE_ADDRESSES")), allowed_networks=networks)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why this installation must not connect to the address, or None."""
        reason = refusal_reason(ip)
        if reason is None or _is_metadata(ip):
            return reason
        if self.allow_private or any(ip.version == n.version and ip in n for n in self.allowed_networks):
            return None
        return reason


def resolve(host: str, port: int, policy: Policy) -> list[IPAddress]:
    """Every address the host resolves to, refusing the lot if any one of them is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchFailed(f"Could not connect: the name {host} was not found. Check the address.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    for ip in addresses:
        reason = policy.refusal(ip)
        if reason:
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise DestinationRefused(
                f"IGNY8 does not connect to {shown}: it is {reason}, not a site on the public internet. "
                "Use the site's public address.")
    return addresses


class _GuardedBackend(httpcore2.SyncBackend):
    """Opens connections only to checked addresses, and to exactly the address it checked.

    The addresses a host resolved to and passed the check are kept for the life of the backend (one
    client, e.g. one publish run): a server that closes every connection (PHP's, many shared hosts)
    then costs one lookup per run, not one per request, and every connection of the run goes to
    the same vetted address."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._vetted: dict[tuple[str, int], list[IPAddress]] = {}

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of a host (looked up and checked on first use by this backend)."""
        key = (host, port)
        if key not in self._vetted:
            self._vetted[key] = resolve(host, port, self.policy)
        return self._vetted[key]

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore2.NetworkStream:
        failure: Exception | None = None
        for ip in self.addresses(host, port):
            try:
                return super().connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except httpcore2.ConnectError as exc:  # try the host's next address
                failure = exc
        raise failure or httpcore2.ConnectError(f"{host} has no address")


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs about 0.2 s each time."""
    return httpx2.create_ssl_context(trust_env=False)


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's transport on a connection pool that uses the guarded backend (and no proxies)."""

    def __init__(self, policy: Policy) -> None:
        # The shared TLS context is passed in, so the parent does not load the CA bundle again just to
        # build a pool that is replaced at once.
        super().__init__(verify=_tls_context(), trust_env=False)
        self._pool = httpcore2.ConnectionPool(  # the pool HTTPTransport sends through
            ssl_context=_tls_context(), network_backend=_GuardedBackend(policy))


def guarded_client(*, timeout: float = DEFAULT_TIMEOUT, policy: Policy | None = None,
                   user_agent: str = USER_AGENT) -> httpx2.Client:
    """An httpx2 client whose every connection (each redirect hop included) goes to checked addresses only;
    it never follows redirects itself."""
    return httpx2.Client(transport=GuardedTransport(policy or Policy.from_config()),
                         timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
                         follow_redirects=False, trust_env=False, headers={"User-Agent": user_agent})


class Session:
    """A client for customer URLs; reuses connections across requests (e.g. one publish run)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, policy: Policy | None = None,
                 user_agent: str = USER_AGENT) -> None:
        self.timeout = timeout
        self.client = guarded_client(timeout=timeout, policy=policy, user_agent=user_agent)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, max_redirects: int = MAX_REDIRECTS,
                max_bytes: int = MAX_BODY_BYTES, **kwargs) -> Response:
        """Send a request (httpx2 keyword arguments: headers, params, json, data, content, files),
        following at most max_redirects redirects, each checked like the first request."""
        started = time.monotonic()
        request = self._build(method, url, **kwargs)
        redirects: list[str] = []
        while True:
            response = self._send(request)
            try:
                if not response.has_redirect_location:
                    body, truncated = _read(response, max_bytes)
                    return Response(status=response.status_code, headers=response.headers, body=body,
                                    url=str(request.url), elapsed_ms=int((time.monotonic() - started) * 1000),
                                    redirects=redirects, truncated=truncated)
                following = response.next_request
            finally:
                response.close()
            if following is None or following.url.scheme not in ("http", "https"):
                raise FetchFailed(f"{_origin(request.url)} redirected to an address IGNY8 cannot follow "
                                  f"({response.headers.get('Location', '')[:200]}).")
            if len(redirects) >= max_redirects:
                raise FetchFailed(f"{_origin(request.url)} redirected more than {max_redirects} times. "
                                  "Check the address for a redirect loop.")
            redirects.append(str(following.url))
            request = following

    def get(self, url: str, **kwargs) -> Response:
        return self.request("GET", url, **kwargs)

    def _build(self, method: str, url: str, **kwargs) -> httpx2.Request:
        try:
            request = self.client.build_request(method, url, **kwargs)
        except (httpx2.InvalidURL, TypeError, ValueError):
            raise FetchFailed(f"“{url[:200]}” is not a web address IGNY8 can use.") from None
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise FetchFailed(f"“{url[:200]}” is not a web address IGNY8 can use; it must start with "
                              "http:// or https://.")
        return request

    def _send(self, request: httpx2.Request) -> httpx2.Response:
        where = _origin(request.url)
        try:
            return self.client.send(request, stream=True)
        except httpx2.TimeoutException:
            raise FetchFailed(f"Could not connect to {where}: no answer within {self.timeout:g} seconds.",
                              transient=True) from None
        except httpx2.ConnectError as exc:
            raise FetchFailed(f"Could not connect to {where}: {_plain_connect_error(exc)}", transient=True) from None
        except httpx2.HTTPError as exc:
            raise FetchFailed(f"The request to {where} failed: {_plain_connect_error(exc)}", transient=True) from None


def request(method: str, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs) -> Response:
    """One request to a customer URL (see Session.request)."""
    with Session(timeout=timeout) as session:
        return session.request(method, url, **kwargs)


def get(url: str, **kwargs) -> Response:
    """GET a customer URL (see Session.request)."""
    return request("GET", url, **kwargs)


def _read(response: httpx2.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def _origin(url: httpx2.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def _plain_connect_error(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "the connection was refused."
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "its HTTPS certificate could not be verified."
    if "reset" in text or "disconnect" in text or "closed" in text:
        return "the server closed the connection."
    if "unreachable" in text or "no route" in text:
        return "the network is unreachable."
    return "the connection failed."
