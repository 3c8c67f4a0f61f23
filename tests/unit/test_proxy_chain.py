"""Certificate chains of proxy TLS files, verified under a name the certificate covers."""

from __future__ import annotations

import trustme
from cryptography import x509

from mxguard.collect.proxy import _names, _verify_chain


def test_a_certificate_whose_first_name_is_a_wildcard_chains_to_its_ca() -> None:
    # Given a certificate for *.example.test only, issued by a trusted CA,
    ca = trustme.CA()
    issued = ca.issue_cert("*.example.test")
    leaf = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())

    # when its chain is verified, then it is trusted (the name is judged by another check).
    status, problem = _verify_chain(leaf, [], [root], _names(leaf))
    assert (status, problem) == ("trusted", "")


def test_a_certificate_from_an_unknown_ca_is_not_trusted() -> None:
    issued = trustme.CA().issue_cert("shop.example.test")
    leaf = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    other = x509.load_pem_x509_certificate(trustme.CA().cert_pem.bytes())
    status, _ = _verify_chain(leaf, [], [other], _names(leaf))
    assert status != "trusted"


def test_a_named_config_inside_a_root_tree_is_read_once(tmp_path: object) -> None:
    # Given --proxy-config naming the tree's own nginx.conf, which discovery also finds,
    from pathlib import Path

    from mxguard.collect.proxy import ProxyOptions, collect_proxy

    tree = Path(str(tmp_path))
    (tree / "etc/nginx").mkdir(parents=True)
    conf = tree / "etc/nginx/nginx.conf"
    conf.write_text("events {}\nhttp { server { listen 80; return 301 https://$host; } }\n")

    facts = collect_proxy(ProxyOptions(root=str(tree), configs=(str(conf),)))

    # then it is parsed once, as the file the user named.
    assert [(c.path, c.is_explicit) for c in facts.configs] == [("/etc/nginx/nginx.conf", True)]
