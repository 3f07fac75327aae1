"""Which web addresses citebot may fetch: http and https only, and never a private one.

A link anyone can post must not make the bot read its own network: the cloud's metadata service
(169.254.169.254 hands out credentials), a router's admin page, a database on localhost. Every
address a host name resolves to is checked, and so is every redirect (fetch.py), so a public name
pointing at 127.0.0.1 is refused as 127.0.0.1 itself is. Only globally routable addresses pass
(`ipaddress`'s `is_global`: private, loopback, link-local, carrier-grade NAT, multicast, reserved
and unspecified ranges fail it), unless an allow-list names them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from retrieval.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (`127.0.0.1`, `10.0.0.0/8`, `::1`); ValueError names a bad one."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item.strip()!r} is not an IP address or network") from None
    return tuple(networks)


def _unwrapped(address: IPAddress) -> IPAddress:
    """An IPv4 address written as IPv6 (`::ffff:127.0.0.1`, 6to4, Teredo) as the IPv4 address
    it reaches: the check must not be dodged by spelling."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return mapped
        if address.teredo is not None:
            return address.teredo[1]
    return address


def refusal(address: str, allowed: Iterable[Network] = ()) -> str | None:
    """Why `address` may not be fetched from, in words; None when it may."""
    try:
        ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return f"{address!r} is not an IP address"
    if any(ip in network for network in allowed):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    kind = (
        "a loopback address"
        if ip.is_loopback
        else "a link-local address (the cloud metadata service among them)"
        if ip.is_link_local
        else "a private address"
        if ip.is_private
        else "not a public address"
    )
    return f"{ip} is {kind}"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_url(url: str, allowed: Iterable[Network] = ()) -> str:
    """`url` if it may be fetched as far as can be told before resolving its host: http or
    https, a host, no user name or password; an IP address host is checked here. Raises
    FetchError saying why not."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise FetchError(f"{url!r} is not a valid web address ({exc}).") from None
    if not parts.scheme:
        raise FetchError(
            f"{url!r} does not start with http:// or https://; give a whole link, like "
            "https://example.org/story."
        )
    if parts.scheme.lower() not in SCHEMES:
        raise FetchError(
            f"Only http and https links can be added, not {parts.scheme}:; give a link like "
            "https://example.org/story."
        )
    host = parts.hostname
    if not host:
        raise FetchError(f"{url!r} names no host; give a link like https://example.org/story.")
    if parts.username is not None or parts.password is not None:
        raise FetchError("Links with a user name or password in them are not fetched.")
    if port == 0:
        raise FetchError(f"{url!r} names port 0, which no server listens on.")
    if is_ip(host):
        why = refusal(host, allowed)
        if why is not None:
            raise FetchError(f"Refused to fetch {url}: {why}.")
    return url.strip()
