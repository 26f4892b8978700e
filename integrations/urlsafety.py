"""Where a webhook may point (SSRF protection, docs/reliability.md): `https://` only, and no
loopback, private, link-local, reserved or multicast address after DNS resolution, unless the
deployment sets WEBHOOK_ALLOW_PRIVATE_URLS (development, tests), which also allows `http://`.
Checked when the endpoint is saved and again before every delivery (a name may resolve
elsewhere later); deliveries follow no redirects."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrl(ValueError):
    pass


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_url(url: str, *, resolve=socket.getaddrinfo) -> str:
    """The URL, or UnsafeUrl with the reason."""
    if not isinstance(url, str) or not url or len(url) > 500 or any(ord(c) < 33 for c in url):
        raise UnsafeUrl("Enter a valid URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Enter a valid URL.")
    allowed = ("https", "http") if _allow_private() else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("Webhook URLs must use https://.")
    host = parts.hostname
    if not host or parts.username or parts.password:
        raise UnsafeUrl("Enter a valid URL without credentials.")
    if _allow_private():
        return url
    try:
        infos = resolve(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("The URL's host name does not resolve.")
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        raise UnsafeUrl("Webhook URLs must not point to private, loopback or link-local addresses.")
    return url
