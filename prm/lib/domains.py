"""Registrable domains (example.co.uk from https://www.example.co.uk/x), with tldextract's bundled suffix list (never fetched at run time)."""

from __future__ import annotations

import ipaddress
import re
import threading
from functools import lru_cache

# ---------------------------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------------------------

_extractor = None
_extractor_lock = threading.Lock()


def _get_extractor():
    global _extractor
    if _extractor is None:
        with _extractor_lock:
            if _extractor is None:
                import tldextract

                _extractor = tldextract.TLDExtract(
                    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
                )
    return _extractor


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _host_from(value: str) -> str:
    v = value.strip().lower()
    if "@" in v and "://" not in v.split("@", 1)[0]:
        # An e-mail address (or a "mailto:" URI): the part after the last "@".
        v = v.rsplit("@", 1)[1]
    else:
        v = _SCHEME_RE.sub("", v)
        v = re.split(r"[/?#\\]", v, maxsplit=1)[0]
        if "@" in v:  # credentials
            v = v.rsplit("@", 1)[1]
    v = re.split(r"[/?#\\\s]", v, maxsplit=1)[0] if v else v
    if v.startswith("["):  # IPv6 literal
        return ""
    if ":" in v:
        v = v.split(":", 1)[0]
    return v.strip().rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def _registrable_cached(value: str) -> str:
    host = _host_from(value)
    if not host or _is_ip(host) or len(host) > 253:
        return ""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return ""
    ascii_host = ascii_host.lower().rstrip(".")
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(lbl) for lbl in labels):
        return ""
    if labels[-1].isdigit():
        return ""
    ext = _get_extractor()(ascii_host)
    if not ext.suffix or not ext.domain:
        return ""
    return f"{ext.domain}.{ext.suffix}"


def registrable_domain(value: str) -> str:
    """Registrable domain (eTLD+1, PSL private suffixes included) of a URL, host or e-mail.

    ``"https://user:pw@Shop.Example.co.uk:8443/p?q"`` → ``"example.co.uk"``; ``"münchen.de"`` →
    ``"xn--mnchen-3ya.de"``; ``"bob@sales.acme.de"`` → ``"acme.de"``. Returns ``""`` for anything
    that is not a domain. Never raises.
    """
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 2048:
        return ""
    try:
        return _registrable_cached(value)
    except Exception:  # defensive: never raise on user input
        return ""
