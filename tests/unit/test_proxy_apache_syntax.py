"""The Apache httpd syntax reader: lines, continuations, quoting, sections, round trips."""

from __future__ import annotations

import pytest

from mxguard.proxy.apache_syntax import ApacheSyntaxError, Node, dump, parse_text, split_args

SAMPLE = """\
# comment
ServerRoot "/etc/apache2"
Listen 443 https
<VirtualHost *:443>
    ServerName shop.example.com
    Header always set Content-Security-Policy "default-src 'self'; \\
script-src 'self'"
    RequestHeader set X-Forwarded-Scheme 'https'
    <Location "/my path/">
        Require all denied
    </location>
</VirtualHost>
"""


def shape(nodes: list[Node]) -> list[object]:
    return [(n.key, n.args, shape(n.children) if n.children is not None else None) for n in nodes]


def test_parse_keeps_lines_sections_and_quotes() -> None:
    nodes = parse_text(SAMPLE, file="a.conf")
    assert [(n.name, n.line) for n in nodes] == [
        ("ServerRoot", 2),
        ("Listen", 3),
        ("VirtualHost", 4),
    ]
    vhost = nodes[2].children
    assert vhost is not None
    header = vhost[1]
    assert header.line == 6  # a continued line keeps the line it starts on
    assert header.args == [
        "always",
        "set",
        "Content-Security-Policy",
        "default-src 'self';  script-src 'self'",
    ]
    assert vhost[2].args == ["set", "X-Forwarded-Scheme", "https"]
    location = vhost[3]
    assert location.args == ["/my path/"] and location.line == 9
    assert location.children and location.children[0].args == ["all", "denied"]


def test_round_trip_gives_the_same_tree() -> None:
    first = parse_text(SAMPLE, file="a.conf")
    again = parse_text(dump(first), file="b.conf")
    assert shape(again) == shape(first)


@pytest.mark.parametrize(
    "word", ["plain", "with space", 'say "hi"', "it's", "back\\slash", "#hash", ""]
)
def test_round_trip_of_awkward_words(word: str) -> None:
    nodes = [Node(name="Header", args=["set", "X", word], file="x", line=1)]
    assert parse_text(dump(nodes), file="x")[0].args == ["set", "X", word]


def test_escaped_quote_inside_quotes() -> None:
    assert split_args(r'a "b \"c\" d" e') == ["a", 'b "c" d', "e"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("<VirtualHost *:80>\nServerName a\n", 1, "never closed"),
        ("ServerName a\n</VirtualHost>\n", 2, "without matching"),
        ("<VirtualHost *:80>\n</Location>\n", 2, "closes <VirtualHost>"),
        ('Header set X "unterminated\n', 1, "unterminated"),
        ("<VirtualHost *:80\n", 1, "not closed"),
        ("<>\n", 1, "empty section"),
    ],
)
def test_malformed_input_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ApacheSyntaxError) as caught:
        parse_text(text, file="bad.conf")
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"bad.conf:{line}:")


def test_deep_nesting_is_refused() -> None:
    text = "<IfModule a>\n" * 100 + "</IfModule>\n" * 100
    with pytest.raises(ApacheSyntaxError, match="too deeply"):
        parse_text(text, file="deep.conf")


def test_comment_lines_and_blank_lines_are_skipped() -> None:
    assert parse_text("   # x\n\n\t\nListen 80 # not a comment\n", file="c") == [
        Node(name="Listen", args=["80", "#", "not", "a", "comment"], file="c", line=4)
    ]
