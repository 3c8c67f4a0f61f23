"""The chain a server sends after its certificate: complete, incomplete, out of order, weak."""

from __future__ import annotations

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mxguard.live.tls import describe_certificate

ROOT = trustme.CA()
MIDDLE = ROOT.create_child_ca()
LOWER = MIDDLE.create_child_ca()
LEAF = LOWER.issue_cert("shop.example.com")


def der(pem: trustme.Blob) -> bytes:
    return x509.load_pem_x509_certificate(pem.bytes()).public_bytes(Encoding.DER)


LEAF_DER = der(LEAF.cert_chain_pems[0])
LOWER_DER = der(LEAF.cert_chain_pems[1])
MIDDLE_DER = der(LEAF.cert_chain_pems[2])


def describe(chain: tuple[bytes, ...] | None, *, trust_error: str = "") -> object:
    return describe_certificate(
        LEAF_DER,
        server_name="shop.example.com",
        trust_error=trust_error,
        trust_store="system",
        chain=chain,
    )


def test_a_complete_chain_is_listed_in_order_with_no_problem() -> None:
    facts = describe((LEAF_DER, LOWER_DER, MIDDLE_DER))
    assert facts.chain_length == 3  # type: ignore[attr-defined]
    assert [c.subject for c in facts.chain] == [  # type: ignore[attr-defined]
        x509.load_der_x509_certificate(d).subject.rfc4514_string() for d in (LOWER_DER, MIDDLE_DER)
    ]
    assert facts.chain_problem == ""  # type: ignore[attr-defined]


def test_a_server_that_sends_only_its_own_certificate_has_an_incomplete_chain() -> None:
    facts = describe((LEAF_DER,), trust_error="unable to get local issuer certificate")
    problem = facts.chain_problem  # type: ignore[attr-defined]
    assert problem.startswith("incomplete chain: the server sends only its own certificate")
    assert "trustme" in problem  # the missing issuer is named


def test_intermediates_in_the_wrong_order_are_said_to_be() -> None:
    facts = describe((LEAF_DER, MIDDLE_DER, LOWER_DER), trust_error="unable to verify")
    assert "out of order" in facts.chain_problem  # type: ignore[attr-defined]


def test_an_unknown_chain_is_not_judged() -> None:
    facts = describe(None, trust_error="unable to get local issuer certificate")
    assert facts.chain_length == 0 and facts.chain == ()  # type: ignore[attr-defined]
    assert facts.chain_problem == ""  # type: ignore[attr-defined]
