"""destinations/webhook/guard.py: a webhook goes to public addresses only; loopback only where allowed (local mode)."""

from __future__ import annotations

import pytest

from audience_sync.destinations.webhook.guard import BlockedAddress, allowed, check


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.8",  # private
        "172.16.4.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT): not private, not public either
        "169.254.169.254",  # link-local: the instance metadata service
        "fe80::1%eth0",  # link-local IPv6 with its zone
        "fd00::1",  # unique local IPv6
        "0.0.0.0",  # noqa: S104 - the address under test, not a bind
        "224.0.0.1",  # multicast
        "::ffff:10.0.0.1",  # a private address mapped into IPv6
        "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
        "64:ff9b:1::1",  # local-use NAT64
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "not an address",
    ],
)
def test_non_public_addresses_are_refused_even_with_loopback_allowed(address: str) -> None:
    assert not allowed(address)
    assert not allowed(address, allow_loopback=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_where_allowed(address: str) -> None:
    assert not allowed(address)
    assert allowed(address, allow_loopback=True)
    with pytest.raises(BlockedAddress) as refused:
        check(address)
    assert refused.value.address == address


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert allowed(address)
    check(address)
