"""Where a webhook may POST: public addresses only, unless a setting allows private ones.

A URL is checked when it is registered (422 on `url`) and again before every delivery, after
its host name is resolved: a name may later resolve inside the network (DNS rebinding), so the
delivery connects to the very address that was checked, never resolving twice. Loopback,
private ranges and `localhost` are allowed only with WEBHOOK_ALLOW_PRIVATE_TARGETS (an
on-premises receiver); link-local addresses (cloud metadata at 169.254.169.254), unspecified
(`0`, `::`), multicast and reserved ones never. Numbers a resolver reads as IPv4 (`2130706433`,
`0x7f.1`, `0177.0.0.1`) are read the same way here, without asking any resolver.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

URL_MAX_CHARS = 2000
NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")  # what inet_aton might read as an IPv4 address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the last 32 bits are an IPv4 address


def system_resolver(host: str, port: int) -> list[str]:
    """Return the addresses a host name resolves to, in the resolver's order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses webhooks may reach, and how host names are resolved."""

    allow_private: bool = False
    resolver: Resolver = system_resolver


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL's parts and the one address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


class TargetRefused(Exception):
    """The URL may not be called; the message says why without probing anything."""


class TargetUnresolved(Exception):
    """The host name did not resolve (perhaps for now)."""


def refusal(address: Address, policy: TargetPolicy) -> str | None:
    """Tell why an address may not be a webhook target, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    never = "that is link-local, unspecified, multicast or reserved (never allowed)"
    if address.is_link_local or address.is_unspecified or address.is_multicast:
        return never
    if address.is_loopback or not address.is_reserved:
        if address.is_global or policy.allow_private:
            return None
        return "inside the network (WEBHOOK_ALLOW_PRIVATE_TARGETS allows loopback and private ones)"
    return never


def literal_address(host: str) -> Address | None:
    """Return the address a host written as a number means, or None for a host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if NUMERIC_HOST.fullmatch(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _parts(url: str) -> tuple[str, str, int, str]:
    """Return scheme, host, port and path of an absolute http(s) URL, or raise ValueError."""
    if len(url) > URL_MAX_CHARS:
        raise ValueError(f"at most {URL_MAX_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (the signature authenticates the sender)")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname.rstrip("."), port, path


def _is_local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def resolve_target(url: str, policy: TargetPolicy) -> Target:
    """Check a URL and pick the address to connect to; raise TargetRefused or TargetUnresolved.

    Every address the name resolves to must pass: one inside the network among public ones
    is what a rebinding attack looks like.
    """
    try:
        scheme, host, port, path = _parts(url)
    except ValueError as error:
        raise TargetRefused(str(error)) from error
    literal = literal_address(host)
    if literal is not None:
        addresses: list[Address] = [literal]
    elif _is_local_name(host):
        addresses = [ipaddress.IPv4Address("127.0.0.1")]
    else:
        try:
            resolved = policy.resolver(host, port)
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
        except (OSError, UnicodeError, ValueError) as error:
            raise TargetUnresolved(f"{host} does not resolve") from error
        if not addresses:
            raise TargetUnresolved(f"{host} does not resolve")
    for address in addresses:
        if reason := refusal(address, policy):
            verb = "is" if literal is not None else "resolves to"
            raise TargetRefused(f"{host} {verb} an address {reason}")
    return Target(scheme, host, port, path, str(addresses[0]))


def check_url(url: str, policy: TargetPolicy) -> list[str]:
    """Return the problems of a URL as a webhook target (empty when it may be registered)."""
    try:
        resolve_target(url, policy)
    except TargetRefused as refused:
        return [str(refused)]
    except TargetUnresolved as unresolved:
        return [f"{unresolved}: give a host name that resolves, or an address"]
    return []
