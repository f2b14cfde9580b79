"""Optional URL fetching for ``?url=`` (off by default): allow-list, SSRF guard, caps.

The host name must be on the allow-list; it is resolved once, EVERY address must be
public (not private, loopback, link-local, multicast, reserved or unspecified), and the
connection goes to that checked address (``Host`` header and TLS SNI keep the name),
so a second DNS answer cannot redirect it (rebinding). Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import StickerguardError
from .settings import Settings


class UrlRefused(StickerguardError):
    """``?url=`` was refused before any connection: disabled, bad URL, host not allowed,
    or an address that is not public."""

    code = "url_refused"


class UrlFetchError(StickerguardError):
    """Fetching an allowed URL failed: connection, HTTP status, size cap or timeout."""

    code = "url_fetch_failed"


def _resolve(host: str) -> list[str]:
    return sorted({ai[4][0] for ai in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def check_address(ip: str) -> None:
    """Raise UrlRefused unless ``ip`` is a public (globally routable) address."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bad = (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
           or addr.is_reserved or addr.is_unspecified or not addr.is_global)
    if bad:
        raise UrlRefused(f"address {ip} is not public (private, loopback, link-local or reserved)", field="url")


def fetch_url(url: str, settings: Settings) -> tuple[bytes, str]:
    """Download ``url`` under ``settings``; returns ``(body bytes, file name)``.

    Raises UrlRefused (fetching disabled, scheme not http/https, credentials in the URL,
    host not in ``url_allow_hosts``, name that does not resolve, non-public address)
    or UrlFetchError (connection error, HTTP status >= 300, body over
    ``url_max_bytes``, whole fetch over ``url_timeout_s`` seconds).
    """
    if not settings.url_fetch:
        raise UrlRefused("URL fetching is disabled on this server (serve --url-fetch)", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused(f"only http and https URLs with a host are fetched, got {url[:200]!r}", field="url")
    if parts.username or parts.password:
        raise UrlRefused("URLs with credentials are refused", field="url")
    host = parts.hostname.lower()
    if host not in settings.url_allow_hosts:
        raise UrlRefused(f"host {host!r} is not on the URL allow-list", field="url")
    try:
        ips = (settings.resolver or _resolve)(host)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"host {host!r} does not resolve: {exc}", field="url") from None
    if not ips:
        raise UrlRefused(f"host {host!r} does not resolve", field="url")
    if not settings.url_allow_private:
        for ip in ips:
            check_address(ip)
    ip = ips[0]
    netloc = f"[{ip}]" if ":" in ip else ip
    if parts.port:
        netloc += f":{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    deadline = time.monotonic() + settings.url_timeout_s
    chunks, size = [], 0
    try:
        with httpx.Client(timeout=settings.url_timeout_s, follow_redirects=False, trust_env=False) as client:
            headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
            with client.stream("GET", target, headers=headers, extensions={"sni_hostname": host}) as resp:
                if resp.status_code >= 300:
                    raise UrlFetchError(f"{host} answered HTTP {resp.status_code}", field="url")
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > settings.url_max_bytes:
                        raise UrlFetchError(f"body is over the limit of {settings.url_max_bytes} bytes "
                                            "(url_max_bytes)", field="url")
                    if time.monotonic() > deadline:
                        raise UrlFetchError(f"fetch took over {settings.url_timeout_s:g} s (url_timeout_s)",
                                            field="url")
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise UrlFetchError(f"fetching from {host} failed: {type(exc).__name__}: {exc}", field="url") from None
    name = parts.path.rsplit("/", 1)[-1] or host
    return b"".join(chunks), name
