"""Where an outbound webhook may go: never to a private, loopback, link-local or otherwise non-public address
(contract v2 §6, SSRF). Pure.

A campaign's url is the client's, and Liquid may fill its host from a profile: without this rule a webhook could
read the instance metadata service (169.254.169.254), a VPC endpoint or a service on localhost and send its answer
nowhere, or probe the network by the outcomes. The check is on the address a connection actually reached
(client.py checks the socket's peer, after DNS), so a name that resolves to a public address when checked and to
a private one when connecting (DNS rebinding) is refused too. Local mode allows loopback, where tests and the
walk-through run their receivers, and says so in its settings; nothing else is ever allowed.
"""

from __future__ import annotations

import ipaddress

# Why not `is_private` alone: it leaves out the shared address space of carrier-grade NAT (100.64.0.0/10), which
# is_global does not count as public either; a public address is what `is_global` says it is.
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The webhook's host is, or resolved to, an address it may not go to."""

    def __init__(self, address: str):
        super().__init__(f"refused to connect to a non-public address ({address})")
        self.address = address


# IPv6 ranges that carry an IPv4 address a gateway translates to (NAT64, IPv4-compatible, IPv4-translated): which
# IPv4 address they reach is the network's business, and `is_global` says "public" for some of them depending on
# the Python release. A webhook has no reason to use them.
_TRANSLATED = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96", "2001::/32")
)


def allowed(address: str, allow_loopback: bool = False) -> bool:
    """Whether a webhook may connect to `address` (an IP literal, as a resolver or a socket's peer names it)."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        elif ip.sixtofour is not None:  # 6to4 (2002::/16) reaches the IPv4 address it embeds
            return allowed(str(ip.sixtofour))
        elif ip.is_loopback:
            return allow_loopback
        elif any(ip in network for network in _TRANSLATED):  # Teredo (2001::/32) too
            return False
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def check(address: str, allow_loopback: bool = False) -> None:
    """BlockedAddress unless `allowed`."""
    if not allowed(address, allow_loopback):
        raise BlockedAddress(address)
