"""The client's address, believing ``X-Forwarded-For`` only from our own proxies.

Anyone can send ``X-Forwarded-For``. It is read only when the peer (``REMOTE_ADDR``) is in
``OMS_TRUSTED_PROXIES`` (addresses or CIDR ranges; none by default), and then from the
right: each trusted proxy appends the address it saw, so the right-most address that is
not one of ours is the client. Whatever stands left of it was written by the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"OMS_TRUSTED_PROXIES holds an entry that is not an address or range: {exc}"
        ) from exc


def parse_address(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1] or [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.9:51234
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The address to throttle and audit: the peer, or what our proxies say it was."""
    remote = request.META.get("REMOTE_ADDR", "")
    peer = parse_address(remote)
    if peer is None:
        return ""
    networks = trusted_networks(tuple(getattr(settings, "OMS_TRUSTED_PROXIES", ())))
    if not _trusted(peer, networks):
        return str(peer)
    current = peer
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed([h for h in hops if h.strip()]):
        address = parse_address(hop)
        if address is None:
            break  # garbage from the client: the nearest proxy is all we know
        current = address
        if not _trusted(address, networks):
            break
    return str(current)
