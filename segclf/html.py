"""HTML pages to blocks: decode the bytes, parse them with selectolax (lexbor), split the text into blocks.

A block is one line of the page's text as html-text (`extract_text(html, guess_layout=True)`) lays it out: block
tags (p, div, li, h1-h6, tr, ...) break lines, inline tags (a, span, b, td, ...) do not. The labeled real-world
evaluation set was cut that way, so the model sees the same units here. Each block keeps where it sat in the page
(segclf.documents.Structure): its element's tag, the ancestor cues, the share of its text inside links, the
class and id tokens around it, and the numbers of its element and nearest ancestors (its region). Scripts, styles
and hidden elements are dropped.

Bad input raises PageError with a one-line reason: the batch scorer turns it into an error row.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from segclf.documents import REGION_LEVELS, STRUCTURE_CUES, Paragraph, Structure
from segclf.errors import SegclfError

MAX_PAGE_BYTES = 16 * 1024 * 1024  # larger "pages" are dumps or traps, not articles
MAX_BLOCKS = 20_000  # a real page has hundreds; tens of thousands means a listing or a generated trap
MAX_CLASS_TOKENS = 32  # nearest first; the rest of a deep page's class soup says nothing about the block

# Line breaks exactly as html-text places them (html_text.NEWLINE_TAGS and DOUBLE_NEWLINE_TAGS).
NEWLINE_TAGS = frozenset("article aside br dd details div dt fieldset figcaption footer form header hr legend li main "
                         "nav table tr".split())
DOUBLE_NEWLINE_TAGS = frozenset("blockquote dl figure h1 h2 h3 h4 h5 h6 ol p pre title ul".split())
BREAK_TAGS = NEWLINE_TAGS | DOUBLE_NEWLINE_TAGS
# Never shown as text: what html-text's cleaner removes whole, and templates (inert until a script uses them).
DROPPED_TAGS = frozenset("script style link meta applet frameset frame noframes template".split())
# Tags that only style text: a block's tag is the nearest element above them ("p", not the "strong" filling it).
_FORMATTING = frozenset("b strong i em u s strike font small big mark sub sup abbr bdi bdo ins del nobr tt q cite "
                        "dfn var kbd samp wbr".split())
_CUE_OF = {tag: tag for tag in STRUCTURE_CUES if tag != "h"}
_CUE_OF.update({f"h{level}": "h" for level in range(1, 7)})
_PUNCT_AFTER = re.compile(r'^[,:;.!?")]')  # html-text joins such text to the previous chunk without a space
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


class PageError(SegclfError):
    """A page that cannot be turned into blocks; str(error) is the reason written on its error row."""


# -- decoding --------------------------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
# Labels browsers read as another encoding (WHATWG Encoding Standard): latin-1 and ascii pages are windows-1252 in
# practice, and a meta tag cannot truthfully declare UTF-16 (the bytes it is written in would not be ASCII).
_BROWSER_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252",
                    "us-ascii": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252", "x-user-defined": "cp1252"}
_MAGIC = ((b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "gzip data"),
          (b"RIFF", "a RIFF (WebP/WAV/AVI) file"), (b"OggS", "an Ogg file"), (b"ID3", "an MP3 file"),
          (b"\x00asm", "WebAssembly"), (b"wOF", "a web font"), (b"BZh", "bzip2 data"), (b"\xfd7zXZ", "xz data"))
_CONTROL = bytes([*range(0, 9), 11, *range(14, 32)])  # C0 controls but tab, newlines and form feed
_MAX_BAD_SHARE = 0.01  # replacement characters tolerated in a decoded page, as a share of its characters


@dataclass
class Decoded:
    text: str
    encoding: str  # Python codec name
    source: str  # where it came from: bom, header, meta, utf-8, detected or fallback


def _codec(label: bytes | str | None, from_meta: bool = False) -> str | None:
    """A Python codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    name = (label.decode("ascii", "ignore") if isinstance(label, bytes) else label).strip().lower()
    name = _BROWSER_ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    if from_meta and codec.startswith("utf-16"):
        return "utf-8"
    return codec


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type.encode("latin-1", "replace"))
    return _codec(match.group(1)) if match else None


def meta_charset(data: bytes) -> str | None:
    """The charset a <meta> tag in the first 4 KB declares (the browsers' prescan, on bytes, before any parsing)."""
    for tag in _META.findall(data[:4096]):
        match = _CHARSET.search(tag)
        if match:
            return _codec(match.group(1), from_meta=True)
    return None


def sniff_binary(data: bytes) -> str | None:
    """Why the bytes are not text, or None: a known file signature or many control bytes."""
    head = data[:8]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    sample = data[:8192]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if sample and controls / len(sample) > 0.05:
        return f"{controls} control bytes in the first {len(sample)}"
    return None


# Encodings web pages use (the WHATWG Encoding Standard's): a detector's guess outside them is a misfire.
_WEB_ENCODINGS = frozenset(codecs.lookup(name).name for name in (
    "utf-8 ibm866 iso8859-2 iso8859-3 iso8859-4 iso8859-5 iso8859-6 iso8859-7 iso8859-8 iso8859-10 iso8859-13 "
    "iso8859-14 iso8859-15 iso8859-16 koi8-r koi8-u mac-roman cp874 cp1250 cp1251 cp1252 cp1253 cp1254 cp1255 "
    "cp1256 cp1257 cp1258 mac-cyrillic gbk gb18030 big5 euc-jp iso2022-jp shift_jis euc-kr").split())


def _detect(data: bytes) -> str | None:
    """A statistical guess among web encodings; windows-1252, the web's commonest legacy one, wins near-ties."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: without it, undeclared non-UTF-8 pages fall back to windows-1252
        return None
    matches = [(match.chaos, _codec(match.encoding)) for match in from_bytes(data[:65536])]
    matches = [(chaos, codec) for chaos, codec in matches if codec in _WEB_ENCODINGS]
    if not matches:
        return None
    best = min(chaos for chaos, _ in matches)
    if any(codec == "cp1252" and chaos <= best + 0.02 for chaos, codec in matches):
        return "cp1252"
    return min(matches, key=lambda match: match[0])[1]


def decode_html(data: bytes, content_type: str | None = None) -> Decoded:
    """Decode a page: byte-order mark, else UTF-8 when every byte fits it, else the declared charset (HTTP header,
    then meta), else a detected encoding, else windows-1252.

    Valid UTF-8 goes first because legacy text with accents is almost never valid UTF-8 by chance, while pages
    (and servers) that declare latin-1 and send UTF-8 are common; it also makes a page read the same from a WARC
    record with its HTTP header and from a bare file."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(codec), codec, "bom")
            except UnicodeDecodeError as error:
                raise PageError(f"wrong encoding: byte-order mark says {codec}, "
                                f"but byte {error.start} is not") from None
    why = sniff_binary(data)
    if why:
        raise PageError(f"binary content, not HTML ({why})")
    declared = [(c, s) for c, s in ((header_charset(content_type), "header"), (meta_charset(data), "meta")) if c]
    utf8_source = next((source for codec, source in declared if codec == "utf-8"), "utf-8")
    candidates = [("utf-8", utf8_source)] + declared
    tried: list[str] = []
    for codec, source in candidates + [(None, "detected"), ("cp1252", "fallback")]:
        if source == "detected":
            codec = _detect(data)
        if codec is None or codec in tried:
            continue
        tried.append(codec)
        try:
            return Decoded(data.decode(codec), codec, source)
        except UnicodeDecodeError:
            continue
    # Nothing fits every byte: read it the way the page asks, with replacement characters, if they stay rare.
    codec, source = (declared or candidates)[0]
    text = data.decode(codec, errors="replace")
    bad = text.count("\ufffd") / max(len(text), 1)
    if bad > _MAX_BAD_SHARE:
        raise PageError(f"wrong encoding: {bad:.0%} of the characters are invalid in {codec} ({source}); "
                        f"tried {', '.join(tried)}")
    return Decoded(text, codec, source)


# -- block splitting -------------------------------------------------------------------------------------------

class _Open:
    """An open element on the walk's path, with what its blocks inherit: cues, and class and id tokens (read only
    when a block needs them)."""

    __slots__ = ("node", "tag", "cues", "parent", "number", "_tokens", "_joined")

    def __init__(self, node: LexborNode | None, tag: str, parent: "_Open | None"):
        self.node = node
        self.tag = tag
        self.parent = parent
        cues = parent.cues if parent is not None else frozenset()
        cue = _CUE_OF.get(tag)
        self.cues = cues | {cue} if cue is not None and cue not in cues else cues
        self.number = -1  # numbered only when a block needs it (see _Splitter._region)
        self._tokens: tuple[str, ...] | None = None
        self._joined: str | None = None

    def class_tokens(self) -> tuple[str, ...]:
        """Class and id tokens of this element and its ancestors, nearest first, each once."""
        if self._tokens is None:
            pending = []  # this element and the ancestors not yet worked out, filled from the top down (no recursion)
            element: _Open | None = self
            while element is not None and element._tokens is None:
                pending.append(element)
                element = element.parent
            inherited = element._tokens if element is not None else ()
            for element in reversed(pending):
                node = element.node
                if node is not None and node.is_element_node:
                    attrs = node.attributes  # one dict: much cheaper than two lookups through node.attrs
                    own = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".split()
                    if own:
                        inherited = tuple(dict.fromkeys(own + list(inherited)))[:MAX_CLASS_TOKENS]
                element._tokens = inherited
        return self._tokens

    def joined_class_tokens(self) -> str:
        """`class_tokens` as one space-separated string, made once per element (its blocks share it)."""
        if self._joined is None:
            self._joined = " ".join(self.class_tokens())
        return self._joined


class _Splitter:
    """Walks the tree once, start and end events in document order, cutting lines where html-text would."""

    def __init__(self, max_blocks: int, label_attribute: str | None = None):
        self.max_blocks = max_blocks
        self.label_attribute = label_attribute
        self.blocks: list[Paragraph] = []
        self.next_number = 0

    def walk(self, root: LexborNode) -> list[Paragraph]:
        # html-text's state: what came last (0 text, 1 newline, 2 blank line) and the raw text of the last chunk.
        prev_kind, prev_text = 2, ""
        parts: list[str] = []  # the current block's text chunks and spaces
        chars = linked = 0  # its characters, and those inside <a>
        low = 0  # the shallowest path depth since the block's first text
        holder = None  # the deepest element holding all of the block's text (as of its last text)
        path = [_Open(root, root.tag, None)]
        links = 0  # open <a> elements
        # An explicit stack of child iterators gives start and end events without recursion (pages nest deeply).
        iterators: list[Iterator[LexborNode]] = [root.iter(include_text=True)]
        # Names bound locally: this loop runs once per node, a thousand and more times a page.
        break_tags, double_tags, punct_after, finish = BREAK_TAGS, DOUBLE_NEWLINE_TAGS, _PUNCT_AFTER.match, self._finish
        while iterators:
            node = next(iterators[-1], None)
            if node is None:  # end of an element
                iterators.pop()
                tag = path.pop().tag
                if prev_kind != 2 and tag in break_tags:
                    if parts:
                        finish(parts, chars, linked, holder)
                        parts, chars, linked = [], 0, 0
                    prev_kind = 2 if tag in double_tags else 1
                if tag == "a":
                    links -= 1
                if len(path) < low:
                    low = len(path)
                continue
            tag = node.tag
            if tag == "-text":
                raw = node.text_content
                if not raw or raw.isspace():  # most text nodes are the whitespace between tags
                    continue
                text = " ".join(raw.split())
                if not parts:
                    low = len(path)
                elif prev_kind == 0 and (prev_text[-1].isspace()
                                         or (not punct_after(text) and not prev_text.endswith("("))):
                    parts.append(" ")
                    chars += 1
                holder = path[low - 1]
                parts.append(text)
                chars += len(text)
                if links:
                    linked += len(text)
                prev_kind, prev_text = 0, raw
            elif tag[0] != "-":  # an element (comments and other nodes are "-comment", ...)
                if prev_kind != 2 and tag in break_tags:
                    if parts:
                        finish(parts, chars, linked, holder)
                        parts, chars, linked = [], 0, 0
                    prev_kind = 2 if tag in double_tags else 1
                path.append(_Open(node, tag, path[-1]))
                if tag == "a":
                    links += 1
                iterators.append(node.iter(include_text=True))
        if parts:
            finish(parts, chars, linked, holder)
        return self.blocks

    def _finish(self, parts: list[str], chars: int, linked: int, holder: _Open) -> None:
        if len(self.blocks) >= self.max_blocks:
            raise PageError(f"too many blocks: over {self.max_blocks:,}")
        owner = holder
        while owner.tag in _FORMATTING and owner.parent is not None:
            owner = owner.parent
        structure = Structure(tag=owner.tag, cues=holder.cues, link_density=linked / chars if chars else 0.0,
                              class_tokens=holder.joined_class_tokens(), region=self._region(owner))
        label = self._label(holder) if self.label_attribute else None
        self.blocks.append(Paragraph("".join(parts), label, structure))

    def _region(self, owner: _Open) -> tuple[int, ...]:
        """The numbers of the block's element (its tag's) and its nearest ancestors (see Structure.region)."""
        numbers = []
        element: _Open | None = owner
        while element is not None and len(numbers) < REGION_LEVELS:
            if element.number < 0:
                element.number = self.next_number
                self.next_number += 1
            numbers.append(element.number)
            element = element.parent
        return tuple(numbers)

    def _label(self, holder: _Open) -> str | None:
        """The label attribute's value on the block's element or its nearest ancestor that has one."""
        element: _Open | None = holder
        while element is not None:
            node = element.node
            if node is not None and node.is_element_node:
                value = node.attributes.get(self.label_attribute)
                if value is not None:
                    return value.strip()
            element = element.parent
        return None


def _drop_invisible(tree: LexborHTMLParser, keep_hidden: bool) -> None:
    """Remove what a reader never sees, before the walk: scripts, styles and the like, and hidden elements."""
    tree.strip_tags(list(DROPPED_TAGS))
    if keep_hidden:
        return
    hidden = [node for node in tree.css("[hidden], [style]") if _hidden(node.attrs)]
    for node in reversed(hidden):  # innermost first: a later node is never an ancestor of an earlier one
        node.decompose()


def _hidden(attrs) -> bool:
    if "hidden" in attrs:
        return True
    style = attrs.get("style")
    return bool(style) and _HIDDEN_STYLE.search(style) is not None


@dataclass
class Page:
    """A page's blocks and what was learnt on the way."""

    paragraphs: list[Paragraph]
    encoding: str
    encoding_source: str
    lang: str | None = None
    canonical_url: str | None = None


def _attr(tree: LexborHTMLParser, selector: str, name: str) -> str | None:
    node = tree.css_first(selector)
    value = node.attrs.get(name) if node is not None else None
    return value.strip() or None if value else None


def parse_page(data: bytes | str, content_type: str | None = None, *, max_bytes: int = MAX_PAGE_BYTES,
               max_blocks: int = MAX_BLOCKS, keep_hidden: bool = False, label_attribute: str | None = None) -> Page:
    """Bytes (or text) of one HTML page to its blocks, in reading order; raises PageError with the reason.

    With `label_attribute` (labeled pages, see segclf.io), each block's label is that attribute's value on its
    element or the nearest ancestor carrying it; the attribute is not a class or id, so the features never see it."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise PageError(f"page too large: {size:,} bytes, over the {max_bytes:,}-byte cap")
    if isinstance(data, str):
        decoded = Decoded(data, "utf-8", "text")
    else:
        if not data.strip():
            raise PageError("empty page")
        decoded = decode_html(data, content_type)
    text = decoded.text.replace("\x00", "")  # as html-text does; lexbor would keep some as U+FFFD
    if not text.strip():
        raise PageError("empty page")
    if not _looks_like_html(text):
        raise PageError("not HTML: no markup in the page")
    # lexbor reads bytes as UTF-8: bytes that are UTF-8 already go in as they are, saving a decode and re-encode.
    utf8 = isinstance(data, bytes) and decoded.encoding == "utf-8" and len(text) == len(decoded.text)
    tree = LexborHTMLParser(data if utf8 else text)
    root = tree.root
    if root is None:
        raise PageError("not HTML: the parser found no document")
    lang, canonical = _attr(tree, "html", "lang"), _attr(tree, "link[rel=canonical]", "href")
    _drop_invisible(tree, keep_hidden)
    return Page(_Splitter(max_blocks, label_attribute).walk(root), decoded.encoding, decoded.source, lang, canonical)


_TAG = re.compile(r"<\s*(!doctype|html|head|body|div|p|a|span|table|title|meta|br|h[1-6]|article|section|li)\b",
                  re.IGNORECASE)


def _looks_like_html(text: str) -> bool:
    """Some tag HTML pages carry, near the start (JSON, CSV or plain text saved as .html has none)."""
    return _TAG.search(text, 0, 65536) is not None


def html_blocks(data: bytes | str, content_type: str | None = None) -> list[Paragraph]:
    """The page's blocks, each a Paragraph with its Structure; see parse_page."""
    return parse_page(data, content_type).paragraphs
