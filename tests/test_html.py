"""The HTML block splitter: blocks, their structure, decoding, and the reasons bad pages are refused."""

from __future__ import annotations

import codecs
import collections
import gzip
import json

import pytest

from segclf.html import PageError, decode_html, html_blocks, parse_page

PAGE = b"""<!doctype html><html lang="en"><head><title>Big news | Site</title><meta charset="utf-8">
<style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
<body><nav class="menu main"><ul><li><a href="/">Home</a></li><li><a href="/w">World</a></li></ul></nav>
<article id="story"><h1>Big <em>news</em> today</h1>
<p>Police   said on
Monday that <a href="/s">the suspect</a>, who had fled, was caught.</p>
<p><strong>A whole bold paragraph</strong></p>
<figure><img src="a.jpg"><figcaption>The scene (AP Photo/Someone)</figcaption></figure>
<blockquote><p>\xe2\x80\x9cWe will win,\xe2\x80\x9d she said.</p></blockquote>
<div style="display: none">Hidden by style</div><p hidden>Hidden by attribute</p>
<table><tr><td>Cell A</td><td>Cell B</td></tr></table>Tail text<br>after a break</article>
<footer><p>&copy; 2024 Site</p></footer></body></html>"""

POLICE = "Police said on Monday that the suspect, who had fled, was caught."


def texts(data, **kwargs):
    return [p.text for p in parse_page(data, **kwargs).paragraphs]


def test_blocks_in_reading_order_with_whitespace_normalised():
    assert texts(PAGE) == [
        "Big news | Site", "Home", "World", "Big news today", POLICE,
        "A whole bold paragraph", "The scene (AP Photo/Someone)", "“We will win,” she said.", "Cell A Cell B",
        "Tail text", "after a break", "© 2024 Site",
    ]


def test_structure_of_each_block():
    blocks = {p.text: p.structure for p in html_blocks(PAGE)}
    home = blocks["Home"]
    assert (home.tag, home.cues, home.link_density) == ("a", frozenset({"nav", "li", "a"}), 1.0)
    assert home.class_tokens == "menu main"
    assert blocks["Big news today"].tag == "h1" and blocks["Big news today"].cues == {"h"}
    police = blocks[POLICE]
    assert police.tag == "p" and police.cues == frozenset()
    assert police.link_density == pytest.approx(len("the suspect") / len(POLICE))
    assert police.class_tokens == "story"
    assert blocks["A whole bold paragraph"].tag == "p"  # the <strong> filling it only styles it
    assert blocks["The scene (AP Photo/Someone)"].cues == {"figure", "figcaption"}
    assert blocks["“We will win,” she said."].cues == {"blockquote"}
    assert blocks["Cell A Cell B"].tag == "tr"
    assert blocks["© 2024 Site"].cues == {"footer"}


def test_blocks_sharing_an_element_share_its_number_in_their_regions():
    blocks = {p.text: p.structure.region for p in html_blocks(PAGE)}
    police, bold, caption = blocks[POLICE], blocks["A whole bold paragraph"], blocks["The scene (AP Photo/Someone)"]
    assert all(1 <= len(region) <= 4 for region in blocks.values())
    assert police[0] != bold[0] and police[1] == bold[1]  # two paragraphs of one article
    assert caption[2] == police[1]  # figcaption, figure, then the article
    assert blocks["Tail text"][0] == police[1]  # text straight in the article: the article is its element
    assert blocks["Home"][0] != blocks["World"][0] and blocks["Home"][2] == blocks["World"][2]  # a, li, ul
    assert police[1] not in blocks["Home"] and police[1] not in blocks["© 2024 Site"]


def test_hidden_elements_dropped_unless_asked():
    assert not any("Hidden" in t for t in texts(PAGE))
    kept = texts(PAGE, keep_hidden=True)
    assert "Hidden by style" in kept and "Hidden by attribute" in kept


def test_page_facts():
    page = parse_page(b'<html lang="de"><head><link rel="canonical" href="https://x.example/a"></head>'
                      b"<body><p>Hallo</p></body></html>")
    assert (page.lang, page.canonical_url, page.encoding) == ("de", "https://x.example/a", "utf-8")


def test_deeply_nested_page_does_not_recurse():
    data = b"<html><body>" + b"<div>" * 5000 + b"deep" + b"</div>" * 5000 + b"</body></html>"
    assert texts(data) == ["deep"]


# -- encodings -------------------------------------------------------------------------------------------------

def test_charset_from_http_header():
    data = "<html><body><p>Ça coûte très cher</p></body></html>".encode("cp1252")
    decoded = decode_html(data, "text/html; charset=windows-1252")
    assert (decoded.encoding, decoded.source) == ("cp1252", "header")
    assert "Ça coûte très cher" in decoded.text


def test_charset_from_meta_tag():
    data = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r"></head>' \
           "<body><p>Привет, мир</p></body></html>"
    decoded = decode_html(data.encode("koi8_r"))
    assert (decoded.encoding, decoded.source) == ("koi8-r", "meta")
    assert "Привет, мир" in decoded.text


def test_valid_utf8_wins_over_a_wrong_declaration():
    data = '<html><head><meta charset="iso-8859-1"></head><body><p>naïve café</p></body></html>'.encode()
    assert "naïve café" in decode_html(data).text


def test_byte_order_mark():
    data = codecs.BOM_UTF16_LE + "<html><body><p>Grüße</p></body></html>".encode("utf-16-le")
    assert texts(data) == ["Grüße"]


def test_undeclared_legacy_encoding_is_detected_or_falls_back():
    data = ("<html><body><p>Le café était fermé à cause de la grève générale des employés.</p></body></html>"
            * 3).encode("cp1252")
    assert "Le café était fermé" in texts(data)[0]


# -- bad pages -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, reason", [
    (b"", "empty page"),
    (b"   \n\t ", "empty page"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary content"),
    (bytes(range(32)) * 100, "binary content"),
    (json.dumps({"title": "not a page", "items": [1, 2, 3]}).encode(), "not HTML"),
    (b"just some plain text without any markup at all", "not HTML"),
    (b'<html><head><meta charset="utf-8"></head><body><p>' + b"\x81\x8d\x8f\x90\x9d\xff\xfe" * 400
     + b"</p></body></html>", "wrong encoding"),
])
def test_bad_pages_are_refused_with_a_reason(data, reason):
    with pytest.raises(PageError, match=reason):
        parse_page(data)


def test_caps_on_bytes_and_blocks():
    with pytest.raises(PageError, match="page too large"):
        parse_page(PAGE, max_bytes=100)
    many = b"<html><body>" + b"<p>x</p>" * 50 + b"</body></html>"
    with pytest.raises(PageError, match="too many blocks"):
        parse_page(many, max_blocks=20)
    assert len(parse_page(many, max_blocks=50).paragraphs) == 50


# -- against the reference layout ------------------------------------------------------------------------------

def test_same_lines_as_html_text():
    html_text = pytest.importorskip("html_text")
    expected = [line.strip() for line in html_text.extract_text(PAGE.decode(), guess_layout=True).split("\n")
                if line.strip()]
    assert texts(PAGE, keep_hidden=True) == expected


def _real_dev_reproduction(shared, keep_hidden):
    pages = {p.name[:8]: p for p in (shared / "pages" / "aeb" / "html").glob("*.html.gz")}
    found = total = 0
    with open(shared / "eval" / "real-dev.jsonl", encoding="utf-8") as stream:
        for line in stream:
            doc = json.loads(line)
            ours = collections.Counter(texts(gzip.decompress(pages[doc["id"][4:]].read_bytes()),
                                             keep_hidden=keep_hidden))
            gold = collections.Counter(p["text"] for p in doc["paragraphs"])
            found += sum(min(n, ours[text]) for text, n in gold.items())
            total += sum(gold.values())
    return found / total


def test_real_dev_blocks_reproduced(shared):
    # real-dev was cut with html-text, which keeps hidden elements: with them, all but a <template>'s line match.
    assert _real_dev_reproduction(shared, keep_hidden=True) > 0.999
    # By default hidden menus are dropped (all of them boilerplate in real-dev).
    assert _real_dev_reproduction(shared, keep_hidden=False) > 0.9
