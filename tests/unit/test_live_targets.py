"""Which of the proxy's sites become live targets, under which name and at which address."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mxguard.collect.live import loopback_for, proxy_site_targets, server_name, site_targets
from mxguard.facts import Installation, Settings, Socket
from mxguard.proxy.model import Listen, Origin, ProxyConfig, ProxyFacts, Route, Site

CONF = "/etc/nginx/nginx.conf"
APP = Installation(name="shop", app_base="/srv/shop", settings=Settings(runtime_port=8080))


def _listen(address: str, port: int = 443, *, tls: bool = True, line: int = 5) -> Listen:
    return Listen(address=address, port=port, is_tls=tls, origin=Origin(file=CONF, line=line))


def _site(
    names: tuple[str, ...] = ("shop.example.com",),
    listens: tuple[Listen, ...] = (),
    upstream: str = "127.0.0.1:8080",
) -> Site:
    route = Route(
        index=0,
        match="prefix",
        path="/",
        kind="proxy",
        origin=Origin(file=CONF, line=9),
        upstream=f"http://{upstream}",
        upstream_hosts=(upstream,),
    )
    return Site(
        name=f"{names[0] if names else '_'}:443",
        server_names=names,
        listens=listens or (_listen("*"),),
        origin=Origin(file=CONF, line=3),
        routes=(route,),
    )


def _proxy(*sites: Site, explicit: bool = True) -> ProxyFacts:
    return ProxyFacts(
        configs=(ProxyConfig(server="nginx", path=CONF, sites=sites, is_explicit=explicit),)
    )


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("shop.example.com", "www.shop.example.com"), "shop.example.com"),
        (
            ("_", "*.example.com", "~^(?<app>.+)\\.example\\.com$", "shop.example.com"),
            "shop.example.com",
        ),
        ((".example.com", "www.example.*", "$hostname"), ""),
        (("Shop.Example.COM.",), "shop.example.com"),
        (("shop.example.com:443",), "shop.example.com"),  # Apache ServerName with a port
        (("https://shop.example.com",), "shop.example.com"),  # ... or with a scheme
        (("192.0.2.7",), "192.0.2.7"),
        (("",), ""),
    ],
)
def test_the_first_plain_server_name_is_used(names: tuple[str, ...], expected: str) -> None:
    assert server_name(_site(names)) == expected


@pytest.mark.parametrize(
    ("address", "sockets", "expected"),
    [
        ("*", (), "127.0.0.1"),
        ("0.0.0.0", (), "127.0.0.1"),
        ("*", (Socket(address="::", port=443),), "::1"),  # bound to IPv6 only
        ("::", (), "::1"),
        ("localhost", (), "127.0.0.1"),
        ("127.0.0.2", (), "127.0.0.2"),
        ("::1", (), "::1"),
        ("192.0.2.7", (), None),
        ("shop.example.com", (), None),
        ("unix:/run/nginx.sock", (), None),
    ],
)
def test_a_listen_maps_to_a_loopback_address_or_to_none(
    address: str, sockets: tuple[Socket, ...], expected: str | None
) -> None:
    assert loopback_for(_listen(address), sockets) == expected


def test_a_tls_site_serving_an_app_becomes_a_target_on_loopback() -> None:
    proxy = _proxy(_site(listens=(_listen("*", 8443), _listen("*", 80, tls=False))))

    targets, problems = proxy_site_targets(proxy, (APP,))

    (target,) = targets
    assert target.url == "https://shop.example.com:8443/"
    assert target.connect_address == "127.0.0.1"
    assert target.origin == f"proxy site {CONF}:5"
    assert (target.app, target.runtime_port) == ("shop", 8080)
    assert problems == []


def test_a_site_without_a_usable_name_is_named_by_its_address() -> None:
    proxy = _proxy(_site(names=("_",), listens=(_listen("::1", 443),)))

    (target,), _ = proxy_site_targets(proxy, (APP,))

    assert (target.url, target.connect_address) == ("https://[::1]/", "::1")


def test_a_site_tied_to_no_app_is_not_a_target() -> None:
    # The config was named with --proxy-config, so the proxy checks judge it, but it fronts
    # no known installation: it is not probed.
    proxy = _proxy(_site(upstream="127.0.0.1:9999"))

    assert proxy_site_targets(proxy, (APP,)) == ([], [])
    assert proxy_site_targets(None, (APP,)) == ([], [])


def test_a_listen_on_another_address_is_not_probed_and_says_why() -> None:
    proxy = _proxy(_site(listens=(_listen("192.0.2.7", 443, line=7),)))

    targets, (problem,) = proxy_site_targets(proxy, (APP,))

    assert targets == []
    assert problem.subject == "url:https://shop.example.com/" and problem.status == "skip"
    assert "192.0.2.7:443" in problem.message and "loopback" in problem.message
    assert (problem.file, problem.line) == (CONF, 7)


def test_a_loopback_listen_of_the_same_name_and_port_covers_another_address() -> None:
    proxy = _proxy(_site(listens=(_listen("192.0.2.7", 443), _listen("127.0.0.1", 443))))

    targets, problems = proxy_site_targets(proxy, (APP,))

    assert [t.connect_address for t in targets] == ["127.0.0.1"] and problems == []


@pytest.mark.parametrize(
    ("url", "is_duplicate"),
    [
        ("https://shop.example.com:8443/", True),
        ("https://SHOP.example.com:8443/login", True),
        ("https://shop.example.com/", False),  # another port
        ("https://127.0.0.1:8443/", False),  # another name
    ],
)
def test_a_proxy_site_given_as_url_is_not_probed_twice(url: str, is_duplicate: bool) -> None:
    proxy = _proxy(_site(listens=(_listen("*", 8443),)))
    (proxy_site,), _ = proxy_site_targets(proxy, (APP,))

    targets = site_targets((url,), (APP,), from_outside=False, proxy_sites=(proxy_site,))

    assert [t.url for t in targets] == ([url] if is_duplicate else [url, proxy_site.url])


def test_a_root_url_over_http_covers_the_https_site_it_leads_to() -> None:
    app = replace(
        APP, settings=replace(APP.settings, application_root_url="http://shop.example.com/")
    )
    (proxy_site,), _ = proxy_site_targets(_proxy(_site()), (app,))

    targets = site_targets((), (app,), from_outside=False, proxy_sites=(proxy_site,))

    assert [t.url for t in targets] == ["http://shop.example.com/"]


def test_from_outside_no_proxy_site_is_a_target() -> None:
    (proxy_site,), _ = proxy_site_targets(_proxy(_site()), (APP,))

    targets = site_targets((), (APP,), from_outside=True, proxy_sites=(proxy_site,))

    assert targets == []


@pytest.mark.parametrize(
    ("sockets", "is_probed"),
    [
        ((Socket(address="0.0.0.0", port=443),), True),
        ((Socket(address="::", port=443),), True),
        ((Socket(address="127.0.0.1", port=443),), True),
        ((Socket(address="192.0.2.7", port=443),), False),  # loopback reaches no listener
        ((Socket(address="0.0.0.0", port=8443),), False),  # another port
        ((), False),
    ],
)
def test_a_site_whose_port_nothing_listens_on_is_not_probed(
    sockets: tuple[Socket, ...], is_probed: bool
) -> None:
    # Given a configuration for a proxy site on port 443 and the host's listening sockets
    proxy = _proxy(_site())

    targets, problems = proxy_site_targets(proxy, (APP,), sockets, are_sockets_known=True)

    # Then the site is probed only when something listens where loopback reaches it
    assert len(targets) == int(is_probed) and len(problems) == int(not is_probed)
    if problems:
        assert "nothing on this host listens on port 443" in problems[0].message


def test_unknown_sockets_do_not_stop_the_probe() -> None:
    targets, problems = proxy_site_targets(_proxy(_site()), (APP,), (), are_sockets_known=False)

    assert len(targets) == 1 and problems == []


def test_the_plain_listener_of_the_same_name_is_the_sites_http_form() -> None:
    # Given a TLS site on 8443 and a redirecting plain site for one of its names on 8080
    tls_site = _site(listens=(_listen("*", 8443),))
    plain_site = replace(
        _site(names=("_", "shop.example.com"), listens=(_listen("*", 8080, tls=False),)),
        routes=(),
    )

    (target,), _ = proxy_site_targets(_proxy(tls_site, plain_site), (APP,))

    # Then the redirect is judged from there, over the same loopback address
    assert target.http_url == "http://shop.example.com:8080/"
    assert target.connect_address == "127.0.0.1"


def test_without_a_plain_listener_the_http_form_is_left_unknown() -> None:
    (target,), _ = proxy_site_targets(_proxy(_site(listens=(_listen("*", 8443),))), (APP,))

    assert target.http_url is None
