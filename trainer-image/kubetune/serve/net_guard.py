"""Which network addresses the server may fetch from, enforced where the socket is opened.

The check runs inside the HTTP client's network backend: the host name is
resolved once, every address it resolves to is vetted, and the connection goes
to the vetted address. A DNS answer that changes between the check and the
connect (rebinding) therefore cannot smuggle in a private target, and TLS still
verifies the certificate against the original host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedAddressError(Exception):
    """The target resolves to an address the policy forbids."""


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, unless private targets are allowed or a network is exempted."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_strings(cls, allow_private: bool, networks: Iterable[str]) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(net, strict=False) for net in networks))

    def allows(self, address: str) -> bool:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if self.allow_private or any(ip in net for net in self.allowed_networks):
            return True
        # is_global excludes loopback, link-local (169.254/16, the cloud metadata range),
        # private, shared (100.64/10), reserved and unspecified ranges.
        return ip.is_global and not ip.is_multicast


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def vetted_address(host: str, port: int, policy: AddressPolicy, resolver: Resolver) -> str:
    """Resolve ``host`` and return an address to connect to, or raise BlockedAddressError."""
    try:
        addresses = await resolver(host, port)
    except OSError as error:
        raise BlockedAddressError(f"cannot resolve {host}: {error}") from error
    if not addresses:
        raise BlockedAddressError(f"{host} resolves to nothing")
    # Every answer must pass: a mixed answer is how rebinding attacks hide a private address.
    blocked = [address for address in addresses if not policy.allows(address)]
    if blocked:
        raise BlockedAddressError(f"{host} resolves to a forbidden address ({blocked[0]})")
    return addresses[0]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await vetted_address(host, port, self._policy, self._resolver)
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("unix sockets are never fetched from")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def literal_addresses(host: str) -> Sequence[str]:
    """The host itself when it is an IP literal, else nothing (used for early, friendlier errors)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return []
