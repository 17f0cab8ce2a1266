"""Properties of the probe rule: any encoding of a forbidden address, and any URL with
credentials, a line break or an odd port, is refused when declared (the validator the onboarding
form and chaos.yaml share), in chaos.yaml on its line, and at probe time with no connection made.

The canary stands for the bot itself (its port is the bot's HTTP port) and for the place a
redirect points to; the audit hook records any connection the process attempts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog.spec import CatalogPolicy, SpecInvalid
from bot.catalog.spec_parse import parse_service_spec
from bot.probes.http import ProbeFailed, get
from bot.probes.target import ProbePolicy, ProbeRefused
from tests.fixtures.canary import Canary, outbound_connections
from tests.fixtures.declarations import checkout_declaration
from tests.integration.test_probes import chaos_yaml_errors

PROPERTIES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def bot() -> Iterator[Canary]:
    """A canary on the bot's HTTP port: nothing may reach it."""
    with Canary() as canary:
        yield canary


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Canary]:
    """A redirect's target: nothing may reach it."""
    with Canary() as canary:
        yield canary


def _part(value: int, draw: st.DrawFn) -> str:
    """One number as inet_aton reads it: decimal, octal, or hex in either case."""
    form = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
    if form == "oct":
        return f"0{value:o}"
    if form == "hex":
        return f"0x{value:x}"
    if form == "HEX":
        return f"0X{value:X}"
    return str(value)


@st.composite
def ipv4_encoding(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """address written any way the C library reads it: one number, a.b, a.b.c or a.b.c.d with
    each part in its own base, perhaps with a trailing dot; or an IPv6 address that reaches it
    (IPv4-mapped, NAT64, 6to4, IPv4-compatible)."""
    n = int(address)
    octets = list(address.packed)
    shape = draw(
        st.sampled_from(["1", "2", "3", "4", "mapped", "mapped-hex", "nat64", "6to4", "compat"])
    )
    if shape == "nat64":
        return f"[64:ff9b::{address}]"
    if shape == "6to4":
        return f"[2002:{n >> 16:x}:{n & 0xFFFF:X}::{draw(st.integers(0, 0xFFFF)):x}]"
    if shape == "compat":
        return f"[::{address}]"
    if shape == "mapped":
        return f"[::{draw(st.sampled_from(['ffff', 'FFFF']))}:{address}]"
    if shape == "mapped-hex":
        high, low = f"{n >> 16:x}", f"{n & 0xFFFF:x}"
        text = f"::ffff:{high}:{low}"
        return "[" + (text.upper() if draw(st.booleans()) else text) + "]"
    if shape == "1":
        parts = [n]
    elif shape == "2":
        parts = [octets[0], n & 0xFFFFFF]
    elif shape == "3":
        parts = [octets[0], octets[1], n & 0xFFFF]
    else:
        parts = octets
    host = ".".join(_part(p, draw) for p in parts)
    return host + ("." if draw(st.booleans()) else "")


LINK_LOCAL_V4 = st.integers(0, 0xFFFF).map(lambda i: ipaddress.IPv4Address(0xA9FE0000 + i))
LOOPBACK_V4 = st.integers(0, 0xFFFFFF).map(lambda i: ipaddress.IPv4Address(0x7F000000 + i))
LINK_LOCAL_V6 = st.integers(0, (1 << 118) - 1).map(
    lambda i: ipaddress.IPv6Address((0xFE80 << 112) | i)
)


@st.composite
def forbidden_host(draw: st.DrawFn) -> tuple[str, str]:
    """(host, a part of the reason) for an address no probe may reach; loopback ones are
    forbidden on the bot's port only, which every URL here uses."""
    kind = draw(st.sampled_from(["link-local", "metadata", "unspecified", "loopback", "v6"]))
    if kind == "link-local":
        return draw(ipv4_encoding(draw(LINK_LOCAL_V4))), "link-local or cloud-metadata"
    if kind == "metadata":
        metadata = ipaddress.IPv4Address("169.254.169.254")
        return draw(ipv4_encoding(metadata)), "(169.254.169.254)"
    if kind == "unspecified":
        return draw(ipv4_encoding(ipaddress.IPv4Address(0))), "the unspecified address"
    if kind == "loopback":
        return draw(ipv4_encoding(draw(LOOPBACK_V4))), "points at chaosbot itself"
    address: ipaddress.IPv6Address = draw(
        st.one_of(
            LINK_LOCAL_V6,
            st.sampled_from(
                [ipaddress.IPv6Address(a) for a in ("fd00:ec2::254", "::", "::1", "FE80::1")]
            ),
        )
    )
    text = address.compressed if draw(st.booleans()) else address.exploded
    reason = {"::": "unspecified", "::1": "chaosbot itself"}.get(str(address), "link-local")
    return "[" + (text.upper() if draw(st.booleans()) else text) + "]", reason


PATHS = st.sampled_from(["/", "/healthz", "/healthz?deep=1", ""])


def assert_refused_everywhere(url: str, reason: str, policy: ProbePolicy, bot: Canary) -> None:
    """Refused by the declaration validator, in chaos.yaml on its line, and at probe time
    before any connection."""
    catalog = CatalogPolicy(allowed_namespaces=frozenset({"payments"}), probes=policy)
    with pytest.raises(SpecInvalid) as invalid:
        parse_service_spec(checkout_declaration(probes=[{"url": url}]), policy=catalog)
    [error] = invalid.value.errors
    assert error.path == "probes[0].url" and reason in error.message
    [located] = chaos_yaml_errors(url, policy)
    assert located.startswith("chaos.yaml:13: spec.probes[0].url: ")
    # chaos.yaml's schema and its YAML reader may name the problem first (a scheme, a NUL).
    assert any(
        why in located for why in (reason, "must be an http:// or https:// URL", "NUL character")
    )
    connections = bot.connections
    with outbound_connections() as made, pytest.raises(ProbeRefused) as refused:
        get(url, policy=policy, timeout=1)
    assert reason in str(refused.value)
    assert made == [] and bot.connections == connections


@PROPERTIES
@given(host=forbidden_host(), scheme=st.sampled_from(["http", "https", "HTTP"]), path=PATHS)
def test_every_encoding_of_a_forbidden_address_is_refused_everywhere(
    bot: Canary, host: tuple[str, str], scheme: str, path: str
) -> None:
    text, reason = host
    url = f"{scheme}://{text}:{bot.port}{path}"
    assert_refused_everywhere(url, reason, ProbePolicy(bot_port=bot.port), bot)


@st.composite
def malformed_url(draw: st.DrawFn, port: int) -> tuple[str, str]:
    """(url, a part of the reason): a URL aimed at a reachable canary that is refused anyway."""
    kind = draw(st.sampled_from(["credentials", "break", "port", "scheme"]))
    word = st.text("abcXYZ019-_.%", min_size=1, max_size=8)
    if kind == "credentials":
        user = draw(word)
        secret = draw(st.one_of(st.just(""), word.map(lambda w: ":" + w)))
        return f"http://{user}{secret}@127.0.0.1:{port}/healthz", "credentials"
    if kind == "break":
        url = f"http://127.0.0.1:{port}/healthz"
        at = draw(st.integers(0, len(url)))
        bad = draw(st.sampled_from(["\r", "\n", "\r\n", " ", "\t", "\x00", "\x0b", "\u2028"]))
        return url[:at] + bad + url[at:], "line breaks or control characters"
    if kind == "port":
        odd = draw(
            st.one_of(
                st.integers(65536, 10**8).map(str),
                st.sampled_from(["0", "00", "-1", "+80", "\uff18\uff10", "http", "80a", ""]),
            )
        )
        return f"http://127.0.0.1:{odd}/healthz", "port"
    scheme = draw(st.sampled_from(["ftp", "file", "gopher", "ws", "javascript", "httpx"]))
    return f"{scheme}://127.0.0.1:{port}/healthz", "must be an http:// or https:// URL"


@PROPERTIES
@given(data=st.data())
def test_urls_with_credentials_line_breaks_odd_ports_or_schemes_are_refused_everywhere(
    elsewhere: Canary, data: st.DataObject
) -> None:
    url, reason = data.draw(malformed_url(elsewhere.port))
    # The canary is a lawful target here: only the URL's form is wrong.
    assert_refused_everywhere(url, reason, ProbePolicy(), elsewhere)


@PROPERTIES
@given(
    status=st.integers(300, 399),
    target=st.sampled_from(["ELSEWHERE", "http://0xA9FEA9FE/", "/other", "http://127.1:BOT/"]),
)
def test_a_redirected_probe_fails_and_the_redirect_is_never_followed(
    bot: Canary, elsewhere: Canary, status: int, target: str
) -> None:
    location = target.replace("ELSEWHERE", elsewhere.url).replace("BOT", str(bot.port))
    with Canary(status=status, location=location) as service:
        connections = (bot.connections, elsewhere.connections)
        with outbound_connections() as made, pytest.raises(ProbeFailed) as failed:
            get(service.url, policy=ProbePolicy(bot_port=bot.port), timeout=1)
        assert f"answered {status}, a redirect to {location!r}" in str(failed.value)
        assert len(service.requests) == 1
    assert made == [("127.0.0.1", service.port)]
    assert (bot.connections, elsewhere.connections) == connections
