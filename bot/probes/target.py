"""Where a steady-state probe may be aimed: one check for the form, chaos.yaml and every probe.

A probe URL is parsed strictly, its host turned into addresses (a numeric host in any form
the C library accepts, such as 2852039166, 0xA9FEA9FE or 127.1, by the library itself, so the
address checked is the one a connection would reach), and every address is checked. A probe
then connects to an address this check returned, never to the name again, so a DNS answer
that changes between the check and the connection (rebinding) changes nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from bot.errors import ChaosbotError

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "METADATA_NAMES",
    "ProbePolicy",
    "ProbeRefused",
    "ProbeTarget",
    "ProbeUnresolved",
    "check_probe_url",
    "resolve_host",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the host names (as text); raises OSError when it names none.
Resolver = Callable[[str, int], Sequence[str]]

# Names of the clouds' instance-metadata services (GCP, AWS, Azure, Alibaba, OpenStack).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.platformequinix.com",
        "metadata.packet.net",
    }
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
# IPv6 prefixes whose last 32 bits are the IPv4 address a packet ends up at.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
# A host name: dot-separated labels of letters, digits, '-' and '_' (no zone, no '%').
_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")
# RFC 6761: localhost names loopback, whatever a resolver says.
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_PORTS = {"http": 80, "https": 443}
_RESOLVE_SECONDS = 2.0
NEVER = "which chaosbot never probes"


def resolve_host(host: str, port: int, *, timeout: float = _RESOLVE_SECONDS) -> list[str]:
    """The addresses the system resolver gives for host, waiting at most timeout seconds."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        answers = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in answers.result(timeout=timeout)]
    except FutureTimeout:
        raise OSError(f"no answer within {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


class ProbeRefused(ChaosbotError):
    """A probe URL chaosbot will not request; the message is the reason, for a field error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ProbeUnresolved(ProbeRefused):
    """The probe's host names no address (now): refused at probe time, left to then when declared."""


@dataclass(frozen=True, kw_only=True)
class ProbePolicy:
    """Where probes must not go: chaosbot itself, and outside the allowed networks when set."""

    bot_port: int | None = None
    bot_public_url: str | None = None
    # CHAOSBOT_PROBE_ALLOWED_NETWORKS; empty allows every network the fixed rules allow.
    allowed_networks: tuple[Network, ...] = ()
    resolve: Resolver = field(default=resolve_host, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProbePolicy:
        """The policy the platform's settings give."""
        return cls(
            bot_port=settings.http_port or None,
            bot_public_url=settings.public_url,
            allowed_networks=settings.probe_allowed_networks,
        )


@dataclass(frozen=True, kw_only=True)
class ProbeTarget:
    """A checked probe URL: what to send (Host, path) and the checked addresses to send it to."""

    scheme: str
    host: str  # the host as written, lower-case: the TLS server name
    port: int
    netloc: str  # the Host header
    path: str  # path and query
    # Every address the host named when checked; None when names were not resolved.
    addresses: tuple[Address, ...] | None


def check_probe_url(url: object, policy: ProbePolicy, *, resolve: bool = True) -> ProbeTarget:
    """The probe URL checked, or ProbeRefused saying why chaosbot will not request it.

    With resolve=False (a declaration) a host name is checked by name only and resolved at
    every probe: names change, and a cluster's names may not resolve where chaos.yaml is
    applied. A numeric host is always turned into its address and checked.
    """
    parts = _parse(url)
    port = parts.port or _PORTS[parts.scheme]
    host = (parts.hostname or "").lower()
    name = host.rstrip(".")
    if _is_metadata_name(name):
        raise ProbeRefused(f"points at a link-local or cloud-metadata address ({name}), {NEVER}")
    literal: tuple[Address, ...] | None = (
        _LOOPBACK if name == "localhost" or name.endswith(".localhost") else None
    )
    literal = literal or _numeric(name, port)
    if literal is not None:
        addresses: tuple[Address, ...] | None = literal
    elif len(name) > 253 or not _NAME.fullmatch(name):
        raise ProbeRefused(f"{host!r} is neither an IP address nor a host name")
    elif not resolve:
        addresses = None
    else:
        addresses = _resolve(name, port, policy.resolve)
    _check_bot_url(name, port, addresses, policy)
    for address in addresses or ():
        _check_address(address, port, policy)
    path = parts.path or "/"
    return ProbeTarget(
        scheme=parts.scheme,
        host=host,
        port=port,
        netloc=parts.netloc,
        path=f"{path}?{parts.query}" if parts.query else path,
        addresses=addresses,
    )


def _is_metadata_name(name: str) -> bool:
    """A metadata service's name or a name under one (under a dotted one: `metadata` alone may
    well be a namespace, as in checkout.metadata)."""
    dotted = (n for n in METADATA_NAMES if "." in n)
    return name in METADATA_NAMES or any(name.endswith("." + n) for n in dotted)


def _parse(url: object) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise ProbeRefused("is required")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ProbeRefused("must not contain spaces, line breaks or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProbeRefused(f"{url!r} is not a URL with a valid host and port (1-65535)") from None
    if parts.scheme not in _PORTS or not parts.hostname:
        raise ProbeRefused(f"must be an http:// or https:// URL, got {url!r}")
    if "@" in parts.netloc:
        raise ProbeRefused("must not carry credentials (user:password@): probes send none")
    if port == 0 or (parts.port is None and parts.netloc.endswith(":")):
        raise ProbeRefused(f"{url!r} has no valid port (1-65535)")
    return parts


def _numeric(host: str, port: int) -> tuple[Address, ...] | None:
    """The address of a numeric host in any form the C library reads (no lookup), else None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return tuple(_normal(str(info[4][0])) for info in infos)


def _resolve(host: str, port: int, resolve: Resolver) -> tuple[Address, ...]:
    try:
        answers = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise ProbeUnresolved(f"{host} does not resolve ({error})") from None
    addresses = tuple(dict.fromkeys(_normal(a) for a in answers))
    if not addresses:
        raise ProbeUnresolved(f"{host} does not resolve to any address")
    return addresses


def _normal(text: str) -> Address:
    """An address as a connection would use it, without its IPv6 zone."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def _reached(address: Address) -> Address:
    """The address a packet ends up at: an IPv6 address carrying an IPv4 one (mapped, NAT64,
    6to4 or the old compatible form) reaches that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _check_address(connected: Address, port: int, policy: ProbePolicy) -> None:
    address = _reached(connected)
    if address.is_unspecified:
        raise ProbeRefused(f"points at the unspecified address {address} (this host), {NEVER}")
    if address in _METADATA_ADDRESSES or address.is_link_local:
        raise ProbeRefused(f"points at a link-local or cloud-metadata address ({address}), {NEVER}")
    if address.is_loopback and port == policy.bot_port:
        raise ProbeRefused(f"points at chaosbot itself ({address} port {port})")
    if policy.allowed_networks and not any(address in n for n in policy.allowed_networks):
        allowed = ", ".join(str(n) for n in policy.allowed_networks)
        raise ProbeRefused(
            f"points at {address}, outside CHAOSBOT_PROBE_ALLOWED_NETWORKS ({allowed})"
        )


def _check_bot_url(
    name: str, port: int, addresses: tuple[Address, ...] | None, policy: ProbePolicy
) -> None:
    """Refuse the bot's public URL: by its name, or by its address when it is numeric."""
    if not policy.bot_public_url:
        return
    public = urlsplit(policy.bot_public_url)
    public_port = public.port or _PORTS.get(public.scheme, 80)
    public_name = (public.hostname or "").lower().rstrip(".")
    if port != public_port:
        return
    public_addresses = [_reached(a) for a in _numeric(public_name, public_port) or ()]
    if name == public_name or any(_reached(a) in public_addresses for a in addresses or ()):
        raise ProbeRefused(f"points at chaosbot itself ({policy.bot_public_url})")
