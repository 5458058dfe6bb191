"""Who a request comes from, as the abuse limits count it: the connection's address, or behind our own
reverse proxies (TRUSTED_PROXY_COUNT of them) the address the outermost one saw.

Each proxy appends the address it was connected from to X-Forwarded-For, so the client is the Nth entry
from the right; entries further left were written by the client itself and are never believed.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as text (normalised), or None when there is no usable one."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        # Fewer hops than proxies: the request did not come through them all, so the connection is the client.
        if len(hops) >= proxies:
            forwarded = _ip(hops[-proxies])
            if forwarded is not None:
                return forwarded
    return _ip(request.META.get("REMOTE_ADDR", ""))


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
