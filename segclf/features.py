"""Feature transformers over estimator rows (segclf.documents.Block): text, layout and page context.

All are scikit-learn transformers without I/O, so they can be reused in users' own pipelines.
"""

from __future__ import annotations

import re
from itertools import chain, repeat
import weakref
from typing import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from segclf.documents import REGION_LEVELS, STRUCTURE_CUES, Block, Structure

# Chinese and Japanese put no spaces between words: each of their characters (Han, kana) counts as a word of its
# own, as a run of word characters does elsewhere; otherwise a whole sentence would read as one long word.
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))  # kana, Han, Han, Han
_CJK = "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES)  # the same, for a regex character class
# Quotation marks are evidence for `quote`, so the word tokenizer keeps them (the default one drops them).
WORD_TOKEN_PATTERN = (rf"(?u)(?=\w)[{_CJK}]|[^\W{_CJK}]+"
                      r"|[“”„‘’‚\"'«»‹›「」『』?!:|©@#—–()\[\]？！：]")

_WORD = re.compile(rf"(?=\w)[{_CJK}]|[^\W{_CJK}]+")
# What ends a sentence or a line in the scripts of the world's news: Latin, CJK full-width, Devanagari, Arabic.
_STOPS = ".!?。！？।؟"
_QUESTION_MARKS = "?？؟"
_EXCLAMATION_MARKS = "!！"
_COLONS = ":："
_CLOSING_QUOTES = "”\"’'»」』"
_NO_STOP = _STOPS + _CLOSING_QUOTES  # a short line ending on none of these has no stop (menus, labels)
# A line opening with a dash is an attribution ("— Name (@handle) date"); a dash inside a line is as often a
# byline's or a title line's ("Name — Outlet", "Headline — Site"), so the dash token alone must not decide.
_DASHES = frozenset("—–")
# A teaser card cut as one block runs its headline into its standfirst with no stop between ("... at Hartwell
# State The 6-foot-4 receiver ...", "... return home from US NEW DELHI: Their ...") or ends on its age ("2 hrs ago").
# The pattern opens on a space (which re finds fast); what stands before it is checked after.
_RUN_IN = re.compile(r" (?:(?:The|A|An|He|She|It|They|We|His|Her|Its|Their|This|These|Those|What|How|Why|When|Who"
                     r"|Police|Officials) |[A-Z][A-Z.\- ]{2,}: )")
_AGES = ("ago", "yesterday", "Yesterday")


def _run_in(text: str) -> bool:
    """Whether a block reads as a headline run into the next line (see _RUN_IN) or ends on an age."""
    if text.endswith(_AGES):
        return True
    for match in _RUN_IN.finditer(text):
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "%)’'"):
            return True
    return False


_ATTRIBUTION = frozenset("said says say told tells according added adds stated wrote writes explained asked "
                         "insisted warned claimed noted argued replied announced".split())
_FIRST_SINGULAR = frozenset("i me my mine myself i'm i've i'd i'll".split())
_FIRST_PLURAL = frozenset("we us our ours ourselves".split())
_SECOND = frozenset("you your yours yourself".split())
_MODAL = frozenset("should must ought shouldn need needs would could might perhaps surely clearly".split())
_TAGS = ("p", "h", "li", "td", "div", "span", "figcaption", "blockquote", "a", "time")
_STRUCTURE_WIDTH = 2 + len(STRUCTURE_CUES) + len(_TAGS)  # the columns of _structure_cues
_OPENERS = {"“": "”", "„": "“", "«": "»", "‹": "›", "‘": "’", "‚": "‘", '"': '"', "'": "'",
            "「": "」", "『": "』"}
_APOSTROPHES = {"’", "'"}
_QUOTE_MARKS = frozenset(_OPENERS) | {"”", "」", "』"}
_ASCII_DIGITS = b"0123456789"
_ASCII_CAPITALS = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LETTERS = _ASCII_CAPITALS + bytes(range(ord("a"), ord("z") + 1))


def block_texts(blocks: Sequence[Block]) -> list[str]:
    return [b.text for b in blocks]


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def quoted_share(text: str) -> float:
    """Share of the words that stand inside quotation marks (the guide's test for `quote`).

    An opening mark with no closing mark counts to the end of the paragraph, as in a multi-paragraph quotation.
    Apostrophes inside words (don't, it’s) are not quotation marks.
    """
    if _QUOTE_MARKS.isdisjoint(text):  # most blocks: nothing can open a quotation
        return 0.0
    inside = total = 0
    closer: str | None = None
    n = len(text)
    for i, ch in enumerate(text):
        prev_alnum = i > 0 and text[i - 1].isalnum()
        if ch.isalnum():
            if not prev_alnum or _is_cjk(ch) or _is_cjk(text[i - 1]):  # a new word starts
                total += 1
                inside += closer is not None
            continue
        next_alnum = i + 1 < n and text[i + 1].isalnum()
        if closer is not None:
            if ch == closer and not (ch in _APOSTROPHES and prev_alnum and next_alnum):
                closer = None
        elif ch in _OPENERS and not prev_alnum and (ch not in _APOSTROPHES or next_alnum):
            closer = _OPENERS[ch]  # a straight ' opens only before a word: the workers' union has none
    return inside / total if total else 0.0


def _title_separated(text: str) -> bool:
    """A title line's shape: "Headline | Site", or a dash (hyphen, en or em) before a short last part."""
    end = text[-40:]
    return " | " in text or " - " in end or " – " in end or " — " in end


def _text_cues(text: str) -> tuple[list[float], list[float]]:
    """The layout features that depend on a block's text alone, as the parts before and after the position ones.

    Counted with map() over str methods and set lookups: the same numbers as generator expressions, at C speed.
    """
    text = text.strip()
    words = _WORD.findall(text)
    lower = [w.lower() for w in words]
    n_words = len(words) or 1
    if text.isascii():  # bytes.translate counts ASCII digits, letters and capitals at C speed, the same counts
        raw = text.encode("ascii")
        digits = len(raw) - len(raw.translate(None, _ASCII_DIGITS))
        n_alpha = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        upper = len(raw) - len(raw.translate(None, _ASCII_CAPITALS))
    else:
        letters = list(filter(str.isalpha, text))
        digits, n_alpha, upper = sum(map(str.isdigit, text)), len(letters), sum(map(str.isupper, letters))
    n_letters = n_alpha or 1
    first, last = (text[:1], text[-1:]) if text else ("", "")
    quoted = quoted_share(text)
    before = [
        np.log1p(len(text)),
        np.log1p(len(words)),
        quoted,
        float(quoted > 0.5),  # the guide's line between quote and the rest, which a linear weight cannot draw
        float(0.3 < quoted <= 0.5),
        float(first in _OPENERS or first == "”"),
        float(last in _CLOSING_QUOTES or text.endswith(("”.", "\".", "’.", "',"))),
        float(not _QUOTE_MARKS.isdisjoint(text)),
        digits / max(len(text), 1),
        upper / n_letters,
        sum(w[:1].isupper() for w in words) / n_words,
        float(last in _STOPS),
        float(last in _COLONS),
        float(last not in _NO_STOP and len(words) <= 8),
        sum(map(_FIRST_SINGULAR.__contains__, lower)) / n_words,
        sum(map(_FIRST_PLURAL.__contains__, lower)) / n_words,
        sum(map(_SECOND.__contains__, lower)) / n_words,
        sum(map(_MODAL.__contains__, lower)) / n_words,
        float(any(mark in text for mark in _QUESTION_MARKS)),
        float(any(mark in text for mark in _EXCLAMATION_MARKS)),
        float(not _ATTRIBUTION.isdisjoint(lower)),
    ]
    after = [
        float(_title_separated(text)),
        float("©" in text or "copyright" in text.lower()),
        float("@" in text or "http" in text or "www." in text),
        float(text[:1] in _DASHES),
        float(_run_in(text)),
    ]
    return before, after


# Character classes as bits: 1 digit, 2 alpha, 4 upper alpha, 8 alnum, 16 upper, 32 a mark quoted_share's walk
# looks at (opener or closer), 64 a quotation mark (_QUOTE_MARKS), 128 a word character of re's \w (alnum or _).
_CHAR_CLASSES: dict[int, int] = {}  # non-ASCII code points seen so far
_QUOTE_EVENTS = frozenset(_OPENERS) | frozenset(_OPENERS.values())
_KELVIN = 0x212A  # the only non-ASCII character whose lower() is ASCII ("k"); checked over all of Unicode in tests
_KEY_CHARS = 9  # the longest word of the word lists below


def _char_bits(code: int) -> int:
    ch = chr(code)
    alpha = ch.isalpha()
    return ((ch.isdigit() * 1) | (alpha * 2) | ((alpha and ch.isupper()) * 4) | (ch.isalnum() * 8)
            | (ch.isupper() * 16) | ((ch in _QUOTE_EVENTS) * 32) | ((ch in _QUOTE_MARKS) * 64)
            | ((ch.isalnum() or ch == "_") * 128))


def _word_key_of(word: str) -> int:
    """A lowercased ASCII word of at most _KEY_CHARS characters as a number (code points base 128, zero-padded)."""
    key = 0
    for j in range(_KEY_CHARS):
        key = key * 128 + (ord(word[j]) if j < len(word) else 0)
    return key


def _word_keys(words) -> np.ndarray:
    return np.asarray(sorted(_word_key_of(w) for w in words if w.isascii() and len(w) <= _KEY_CHARS), dtype=np.int64)


_WORD_LISTS = [_word_keys(s) for s in (_FIRST_SINGULAR, _FIRST_PLURAL, _SECOND, _MODAL, _ATTRIBUTION)]


_ASCII_BITS = np.asarray([_char_bits(c) for c in range(128)], dtype=np.uint8)


def _cjk_mask(codes: np.ndarray) -> np.ndarray:
    """Whether each code point is a Han or kana character (looked at only above the first range: most are not)."""
    mask = np.zeros(len(codes), dtype=bool)
    high = np.flatnonzero(codes >= _CJK_RANGES[0][0])
    if len(high):
        wide = codes[high]
        mask[high] = np.logical_or.reduce([(wide >= low) & (wide <= top) for low, top in _CJK_RANGES])
    return mask


def _any_of(codes: np.ndarray, marks: str) -> np.ndarray:
    found = codes == ord(marks[0])
    for mark in marks[1:]:
        found |= codes == ord(mark)
    return found


def _classes_of(codes: np.ndarray) -> np.ndarray:
    """The _char_bits of each code point: a table for ASCII, the others looked up once per distinct character."""
    bits = _ASCII_BITS[np.minimum(codes, 127)]
    wide = np.flatnonzero(codes > 127)
    if len(wide):
        distinct, where = np.unique(codes[wide], return_inverse=True)
        if len(_CHAR_CLASSES) > 100_000:
            _CHAR_CLASSES.clear()
        table = np.fromiter((_CHAR_CLASSES[c] if c in _CHAR_CLASSES else _CHAR_CLASSES.setdefault(c, _char_bits(c))
                             for c in distinct.tolist()), dtype=np.uint8, count=len(distinct))
        bits[wide] = table[where]
    return bits


def _text_cues_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`_text_cues` of many texts at once, the same numbers: rows of the parts before and after the position ones.

    Character classes are counted over all texts' code points with numpy, word cues once per distinct word, and
    the quotation share walks only the quotation marks (the words between two marks are counted by a prefix sum).
    """
    stripped = list(map(str.strip, texts))
    m = len(stripped)
    lengths = np.fromiter(map(len, stripped), dtype=np.int64, count=m)
    # All texts end to end, each followed by a newline (no class, no quotation mark): a character's neighbours
    # within its text are its neighbours here, and the newline stands for "no character" at either end.
    codes = _codes("\n".join(stripped) + "\n")
    row = np.repeat(np.arange(m), lengths + 1)
    bits = _classes_of(codes)

    # The words of _WORD are the runs of word characters, but a CJK character is a word alone. A word's lower() can
    # be in the word lists only if it is ASCII but for Kelvin signs: those are lowercased on their codes and
    # compared as numbers (_word_key_of).
    word_char = (bits & 128) != 0
    cjk = _cjk_mask(codes)
    apart = cjk | np.concatenate([[False], cjk[:-1]]) if cjk.any() else cjk  # a word boundary falls before these
    first = np.flatnonzero(word_char & (~np.concatenate([[False], word_char[:-1]]) | apart))
    apart_after = np.concatenate([apart[1:], [True]])
    last = np.flatnonzero(word_char & (~np.concatenate([word_char[1:], [False]]) | apart_after))
    word_row = row[first]
    n_words_raw = np.bincount(word_row, minlength=m).astype(np.int64)
    n_words = np.maximum(n_words_raw, 1)
    titles = np.bincount(word_row, weights=(bits[first] & 16) != 0, minlength=m)
    size = last - first + 1
    lowered = np.where((codes >= 65) & (codes <= 90), codes + 32, np.where(codes == _KELVIN, 107, codes))
    foreign = np.concatenate([[0], np.cumsum(lowered > 127)])
    candidate = np.flatnonzero((size <= _KEY_CHARS) & (foreign[last + 1] == foreign[first]))
    key = np.zeros(len(candidate), dtype=np.int64)
    for j in range(_KEY_CHARS):
        at = first[candidate] + j
        key = key * 128 + np.where(j < size[candidate], lowered[np.minimum(at, len(codes) - 1)], 0)
    candidate_row = word_row[candidate]

    def per_text(keys):
        return np.bincount(candidate_row, weights=np.isin(key, keys), minlength=m)
    digits = np.bincount(row, weights=(bits & 1) != 0, minlength=m)
    n_alpha = np.bincount(row, weights=(bits & 2) != 0, minlength=m)
    upper = np.bincount(row, weights=(bits & 4) != 0, minlength=m)
    alnum = (bits & 8) != 0
    prev_alnum = np.concatenate([[False], alnum[:-1]])
    word_start = alnum & (~prev_alnum | apart)
    total_words = np.bincount(row, weights=word_start, minlength=m)
    starts_before = np.concatenate([[0], np.cumsum(word_start)])  # word starts before each position
    text_start = np.cumsum(lengths + 1) - (lengths + 1)

    quoted = np.zeros(m)
    has_quote_mark = np.bincount(row, weights=(bits & 64) != 0, minlength=m) > 0
    # quoted_share's walk, over the quotation marks alone: the state changes only there.
    events = np.flatnonzero(((bits & 32) != 0) & has_quote_mark[row])
    event_row = row[events].tolist()
    event_prev = alnum[events - 1].tolist() if len(events) else []  # position 0 is a text's first: no event there
    event_next = alnum[events + 1].tolist()
    event_char = [chr(c) for c in codes[events].tolist()]
    event_before = starts_before[events].tolist()
    text_end_before = starts_before[text_start + lengths].tolist()
    k, n_events = 0, len(event_row)
    while k < n_events:
        i = event_row[k]
        closer, opened, inside = None, 0, 0
        while k < n_events and event_row[k] == i:
            ch, prev_ok, next_ok = event_char[k], event_prev[k], event_next[k]
            if closer is not None:
                if ch == closer and not (ch in _APOSTROPHES and prev_ok and next_ok):
                    inside += event_before[k] - opened
                    closer = None
            elif ch in _OPENERS and not prev_ok and (ch not in _APOSTROPHES or next_ok):
                closer, opened = _OPENERS[ch], event_before[k]
            k += 1
        if closer is not None:
            inside += text_end_before[i] - opened
        total = int(total_words[i])
        quoted[i] = inside / total if total else 0.0

    n_letters = np.maximum(n_alpha, 1)
    firsts = [t[:1] for t in stripped]
    lasts = [t[-1:] for t in stripped]

    def flag(values):
        return np.fromiter(values, dtype=np.float64, count=m)

    before = np.column_stack([
        np.log1p(lengths.astype(np.float64)),
        np.log1p(n_words_raw.astype(np.float64)),
        quoted,
        (quoted > 0.5).astype(np.float64),
        ((0.3 < quoted) & (quoted <= 0.5)).astype(np.float64),
        flag(f in _OPENERS or f == "”" for f in firsts),
        flag(last in _CLOSING_QUOTES or t.endswith(("”.", "\".", "’.", "',")) for t, last in zip(stripped, lasts)),
        has_quote_mark.astype(np.float64),
        digits / np.maximum(lengths, 1),
        upper / n_letters,
        titles / n_words,
        flag(last in _STOPS for last in lasts),
        flag(last in _COLONS for last in lasts),
        flag(last not in _NO_STOP and k <= 8 for last, k in zip(lasts, n_words_raw.tolist())),
        *(per_text(keys) / n_words for keys in _WORD_LISTS[:4]),
        np.bincount(row, weights=_any_of(codes, _QUESTION_MARKS), minlength=m) > 0,
        np.bincount(row, weights=_any_of(codes, _EXCLAMATION_MARKS), minlength=m) > 0,
        per_text(_WORD_LISTS[4]) > 0,
    ]).reshape(m, 21)
    after = np.column_stack([
        flag(map(_title_separated, stripped)),
        flag("©" in t or "copyright" in t.lower() for t in stripped),
        flag("@" in t or "http" in t or "www." in t for t in stripped),
        flag(t[:1] in _DASHES for t in stripped),
        flag(map(_run_in, stripped)),
    ]).reshape(m, 5)
    return before, after


_HEADINGS = frozenset(f"h{level}" for level in range(1, 7))


def _structure_cues(s: Structure | None) -> list[float]:
    if s is None:
        return [0.0] * (2 + len(STRUCTURE_CUES) + len(_TAGS))
    tag = "h" if s.tag in _HEADINGS else s.tag
    cues = s.cues
    return [1.0, s.link_density, *[float(c in cues) for c in STRUCTURE_CUES], *[float(tag == t) for t in _TAGS]]


def _layout_row(block: Block, text_cues: tuple[list[float], list[float]] | None = None) -> list[float]:
    before, after = text_cues or _text_cues(block.text)
    position = [block.index / max(block.count - 1, 1), float(block.index == 0), float(block.index == block.count - 1),
                np.log1p(block.count)]
    return before + position + after + _structure_cues(block.structure)


LAYOUT_FEATURE_NAMES: tuple[str, ...] = (
    "log_chars", "log_words", "quoted_share", "mostly_quoted", "partly_quoted", "starts_with_quote", "ends_with_quote", "has_quote_mark",
    "digit_share", "upper_share", "titlecase_share", "ends_sentence", "ends_colon", "short_no_stop",
    "first_person_singular", "first_person_plural", "second_person", "modal", "question", "exclamation",
    "attribution_verb", "relative_position", "is_first", "is_last", "log_doc_length", "title_separator",
    "copyright", "handle_or_link", "starts_with_dash", "run_in_break", "has_structure", "link_density",
    *(f"in_{c}" for c in STRUCTURE_CUES), *(f"tag_{t}" for t in _TAGS),
)


class LayoutFeatures(BaseEstimator, TransformerMixin):
    """Dense cues a bag of words misses: length, quotation share, case, person, position, HTML structure.

    structure=False leaves the HTML structure columns at zero, as for plain paragraphs: for a model whose labeled
    pages carry markup unlike the pages it will label (see SegmentClassifier)."""

    def __init__(self, structure: bool = True):
        self.structure = structure

    def fit(self, X: Sequence[Block], y=None):
        self.n_features_out_ = len(LAYOUT_FEATURE_NAMES)
        return self

    def transform(self, X: Sequence[Block]) -> np.ndarray:
        # Pages repeat their menus and footers: the text part of a row is worked out once per distinct text, for
        # all distinct texts at once (_text_cues_batch); the same numbers as _layout_row gives block by block.
        n = len(X)
        distinct, rows = distinct_texts(X)
        before, after = _text_cues_batch(distinct)
        index = np.fromiter((b.index for b in X), dtype=np.int64, count=n)
        count = np.fromiter((b.count for b in X), dtype=np.int64, count=n)
        position = np.column_stack([index / np.maximum(count - 1, 1), (index == 0).astype(np.float64),
                                    (index == count - 1).astype(np.float64), np.log1p(count.astype(np.float64))])
        # Structure rows differ by tag and cues, and by link density (column 1, filled in after).
        structures = [b.structure for b in X] if self.structure else [None] * n
        templates: dict = {None: _structure_cues(None)}
        for s in structures:
            if s is not None and (s.tag, s.cues) not in templates:
                templates[(s.tag, s.cues)] = _structure_cues(Structure(s.tag, s.cues))
        structure = np.asarray([templates[None if s is None else (s.tag, s.cues)] for s in structures],
                               dtype=np.float64).reshape(n, _STRUCTURE_WIDTH)
        structure[:, 1] = np.fromiter((0.0 if s is None else s.link_density for s in structures), dtype=np.float64,
                                      count=n)
        return np.hstack([before[rows], position.reshape(n, 4), after[rows],
                          structure.reshape(n, _STRUCTURE_WIDTH)])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(LAYOUT_FEATURE_NAMES, dtype=object)


class TextVectorizer(BaseEstimator, TransformerMixin):
    """TF-IDF over the blocks' text: word 1-2-grams (quotation marks kept) and, optionally, character n-grams."""

    def __init__(self, word_max_features: int = 100_000, char_ngrams: bool = True,
                 char_max_features: int = 100_000, min_df: int = 2):
        self.word_max_features = word_max_features
        self.char_ngrams = char_ngrams
        self.char_max_features = char_max_features
        self.min_df = min_df

    def fit(self, X: Sequence[Block], y=None):
        texts = block_texts(X)
        min_df = self.min_df if len(texts) >= 10 * self.min_df else 1
        self.word_ = TfidfVectorizer(token_pattern=WORD_TOKEN_PATTERN, ngram_range=(1, 2), min_df=min_df,
                                     max_features=self.word_max_features, sublinear_tf=True,
                                     dtype=np.float32).fit(texts)
        self.char_ = None
        if self.char_ngrams:
            self.char_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=min_df, lowercase=False,
                                         max_features=self.char_max_features, sublinear_tf=True,
                                         dtype=np.float32).fit(texts)
        return self

    def transform(self, X: Sequence[Block]) -> sparse.csr_matrix:
        # Each distinct text is vectorised once (pages repeat their menus), then rows are copied into place:
        # TF-IDF rows do not depend on one another, so the matrix is the same.
        texts = block_texts(X)
        row_of: dict[str, int] = {}
        rows = np.fromiter((row_of.setdefault(t, len(row_of)) for t in texts), dtype=np.intp, count=len(texts))
        distinct = list(row_of)
        parts = [_word_transform_vectorized(self.word_, distinct)]
        if self.char_ is not None:
            parts.append(_char_wb_transform_vectorized(self.char_, distinct))
        return sparse.hstack(parts, format="csr")[rows]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = [f"word:{t}" for t in self.word_.get_feature_names_out()]
        if self.char_ is not None:
            names += [f"char:{t}" for t in self.char_.get_feature_names_out()]
        return np.asarray(names, dtype=object)


def _codes(text: str) -> np.ndarray:
    """The code points of `text` as uint32 (lone surrogates kept as they are)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _ragged_positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For pieces of the given lengths laid end to end: each position's piece and the piece's end position."""
    ends = np.cumsum(lengths)
    piece = np.repeat(np.arange(len(lengths)), lengths)
    return piece, ends[piece]


class _CharKeys:
    """A fitted char n-gram vocabulary as integer keys: each character gets a small code (1..B-1, 0 for a character
    no n-gram of the vocabulary contains), an n-gram the number c1*B^(n-1) + ... + cn. Keys of different lengths
    cannot meet (a valid first character is at least 1), so a sorted array of the vocabulary's keys, searched with
    numpy, replaces the dict lookups of the n-grams one by one."""

    def __init__(self, vocabulary: dict[str, int], min_n: int, max_n: int):
        terms = list(vocabulary)
        self.ok = bool(terms) and all(min_n <= len(t) <= max_n for t in terms)
        alphabet = np.unique(_codes("".join(terms))) if terms else np.zeros(0, dtype=np.uint32)
        self.alphabet = alphabet
        self.base = base = len(alphabet) + 1
        self.ok = self.ok and base ** max_n < 2 ** 62
        if not self.ok:
            return
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        small = self.small_codes(_codes("".join(terms)))
        keys = np.zeros(len(terms), dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        for j in range(max_n):
            has = lengths > j
            keys[has] = keys[has] * base + small[starts[has] + j]
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(terms))[order]

    def small_codes(self, codes: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.alphabet, codes)
        at[at == len(self.alphabet)] = 0
        known = self.alphabet[at] == codes if len(self.alphabet) else np.zeros(len(codes), dtype=bool)
        return np.where(known, at + 1, 0).astype(np.int64)

    def word_counts(self, words: list[str], min_n: int, max_n: int, dtype) -> sparse.csr_matrix:
        """The vocabulary n-gram counts of each padded word " w " (rows: words), as scikit-learn's char_wb cuts it."""
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        small = self.small_codes(_codes("".join(f" {w} " for w in words)))
        piece, end = _ragged_positions(lengths)
        position = np.arange(len(small))
        rows, columns = [], []
        key = np.zeros(len(small), dtype=np.int64)
        valid = np.ones(len(small), dtype=bool)
        for n in range(1, max_n + 1):  # key and validity of the n-gram starting at each position, grown by one
            shifted = np.zeros(len(small), dtype=np.int64)
            shifted[:len(small) - n + 1] = small[n - 1:]
            key = key * self.base + shifted
            valid &= shifted > 0
            if n < min_n:
                continue
            starts = np.flatnonzero(valid & (position + n <= end))
            at = np.searchsorted(self.keys, key[starts])
            at[at == len(self.keys)] = 0
            found = self.keys[at] == key[starts]
            rows.append(piece[starts[found]])
            columns.append(self.columns[at[found]])
        rows_, columns_ = np.concatenate(rows), np.concatenate(columns)
        counts = sparse.coo_matrix((np.ones(len(rows_), dtype=dtype), (rows_, columns_)),
                                   shape=(len(words), len(self.keys))).tocsr()
        counts.sum_duplicates()
        return counts


_CHAR_KEYS: "weakref.WeakKeyDictionary[TfidfVectorizer, _CharKeys]" = weakref.WeakKeyDictionary()


def _char_wb_transform_vectorized(vectorizer: TfidfVectorizer, texts: list[str]):
    """`vectorizer.transform(texts)` for a char_wb TfidfVectorizer, over the whole batch at once with numpy.

    A text's counts are the sum of its words' counts (char_wb n-grams stay inside a word): counts = W @ G, with W
    the texts' word counts and G the n-gram counts of the batch's distinct words, cut and looked up as integer keys
    (see _CharKeys). Products and sums of small integers are exact in float32, so the counts are the same numbers;
    sorted indices put them in scikit-learn's order, and the vectorizer's own TF-IDF step does the rest.
    """
    if (vectorizer.analyzer != "char_wb" or vectorizer.lowercase or vectorizer.preprocessor is not None
            or vectorizer.strip_accents is not None or vectorizer.binary or vectorizer.input != "content"
            or not hasattr(vectorizer, "_tfidf")):
        return vectorizer.transform(texts)  # a configuration this does not reproduce
    min_n, max_n = vectorizer.ngram_range
    keys = _CHAR_KEYS.get(vectorizer)
    if keys is None:
        keys = _CHAR_KEYS[vectorizer] = _CharKeys(vectorizer.vocabulary_, min_n, max_n)
    if not keys.ok or min_n < 1 or min_n > 3:  # a padded word is >= 3 long: no "short word counted whole" case
        return vectorizer.transform(texts)
    # scikit-learn squeezes runs of whitespace (re's \s) before str.split(); both know the same whitespace
    # (Py_UNICODE_ISSPACE), so split() alone gives the same words.
    split = list(map(str.split, texts))
    words = list(chain.from_iterable(split))
    word_id = {w: i for i, w in enumerate(dict.fromkeys(words))}
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, split), dtype=np.int64, count=len(split)), out=indptr[1:])
    dtype = vectorizer.dtype
    occurrences = sparse.csr_matrix((np.ones(len(words), dtype=dtype),
                                     np.fromiter(map(word_id.__getitem__, words), dtype=np.int64, count=len(words)),
                                     indptr), shape=(len(texts), len(word_id)))
    occurrences.sum_duplicates()
    counts = occurrences @ keys.word_counts(list(word_id), min_n, max_n, dtype)
    counts = counts.tocsc().tocsr()  # two O(nnz) passes leave each row's indices sorted, as scikit-learn's are
    return vectorizer._tfidf.transform(counts, copy=False)


class _WordKeys:
    """A fitted word 1-2-gram vocabulary as integer keys: each token of the vocabulary gets a number t, a unigram
    the column of its token, a bigram the key ta*T + tb (tokens hold no space, so a bigram term splits in two)."""

    def __init__(self, vocabulary: dict[str, int]):
        parts = [term.split(" ") for term in vocabulary]
        self.ok = all(1 <= len(p) <= 2 and all(p) for p in parts)
        if not self.ok:
            return
        self.token = {t: i for i, t in enumerate(dict.fromkeys(chain.from_iterable(parts)))}
        size = self.size = len(self.token)
        self.unigram = np.full(size + 1, -1, dtype=np.int64)  # the last slot answers for tokens not in the vocabulary
        keys, columns = [], []
        for p, column in zip(parts, vocabulary.values()):
            if len(p) == 1:
                self.unigram[self.token[p[0]]] = column
            else:
                keys.append(self.token[p[0]] * size + self.token[p[1]])
                columns.append(column)
        keys_ = np.asarray(keys, dtype=np.int64)
        order = np.argsort(keys_, kind="stable")
        self.keys, self.columns = keys_[order], np.asarray(columns, dtype=np.int64)[order]


_WORD_KEYS: "weakref.WeakKeyDictionary[TfidfVectorizer, _WordKeys]" = weakref.WeakKeyDictionary()


def _word_transform_vectorized(vectorizer: TfidfVectorizer, texts: list[str]):
    """`vectorizer.transform(texts)` for a lowercasing word 1-2-gram TfidfVectorizer without stop words, over the
    batch at once: the same tokens (token_pattern on each lowercased text), mapped to numbers once, the unigrams
    and the bigrams of neighbouring tokens within a text looked up as integer keys (see _WordKeys)."""
    min_n, max_n = vectorizer.ngram_range
    keys = _WORD_KEYS.get(vectorizer)
    if keys is None:
        keys = _WORD_KEYS[vectorizer] = _WordKeys(vectorizer.vocabulary_)
    if (not keys.ok or (min_n, max_n) != (1, 2) or vectorizer.analyzer != "word" or not vectorizer.lowercase
            or vectorizer.preprocessor is not None or vectorizer.tokenizer is not None
            or vectorizer.stop_words is not None or vectorizer.strip_accents is not None or vectorizer.binary
            or vectorizer.input != "content" or not hasattr(vectorizer, "_tfidf")):
        return vectorizer.transform(texts)  # a configuration this does not reproduce
    tokenize = vectorizer.build_tokenizer()
    split = list(map(tokenize, map(str.lower, texts)))
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    tokens = list(chain.from_iterable(split))
    ids = np.fromiter(map(keys.token.get, tokens, repeat(keys.size)), dtype=np.int64, count=len(tokens))
    row = np.repeat(np.arange(len(texts)), lengths)
    unigram = keys.unigram[ids]
    pair = np.flatnonzero((row[:-1] == row[1:]) & (ids[:-1] < keys.size) & (ids[1:] < keys.size))
    bigram = ids[pair] * keys.size + ids[pair + 1]
    at = np.searchsorted(keys.keys, bigram)
    at[at == len(keys.keys)] = 0
    found = keys.keys[at] == bigram if len(keys.keys) else np.zeros(len(bigram), dtype=bool)
    rows = np.concatenate([row[unigram >= 0], row[pair[found]]])
    columns = np.concatenate([unigram[unigram >= 0], keys.columns[at[found]]])
    counts = sparse.coo_matrix((np.ones(len(rows), dtype=vectorizer.dtype), (rows, columns)),
                               shape=(len(texts), len(vectorizer.vocabulary_))).tocsr()
    counts.sum_duplicates()
    return vectorizer._tfidf.transform(counts, copy=False)


# Short lines that open a section of commentary on republished pages ("Comment", "Editor's note", "Our view").
_COMMENTARY_HEADER = re.compile(r"\b(comment|commentary|editor|editorial|ed|note|view|take|opinion|analysis|"
                                r"matters|verdict|perspective)\b", re.IGNORECASE)


def distinct_texts(X: Sequence[Block]) -> tuple[list[str], np.ndarray]:
    """The distinct texts of the rows, and each row's index among them: pages of a site repeat their furniture,
    so text-only work is done once per distinct text."""
    texts = [b.text for b in X]
    row_of = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    return list(row_of), np.fromiter(map(row_of.__getitem__, texts), dtype=np.intp, count=len(texts))


class PageGrid:
    """The rows of a batch laid out page by page: pages of similar length side by side, padded to one width.

    Context features are per-page arithmetic (shifts and running sums along a page). On a grid they run for many
    pages at once, and a page's numbers stay exactly what they would be on its own: its running sums start at its
    first block, whatever else is in the batch, and padding adds only zeros after its end.
    """

    def __init__(self, X: Sequence[Block]):
        n = len(X)
        doc = np.fromiter((b.doc for b in X), dtype=np.int64, count=n)
        index = np.fromiter((b.index for b in X), dtype=np.int64, count=n)
        order = np.lexsort((index, doc))  # page by page, each in page order
        new_page = np.ones(n, dtype=bool)
        new_page[1:] = doc[order][1:] != doc[order][:-1]
        starts = np.flatnonzero(new_page)
        lengths = np.diff(np.r_[starts, n])
        width = 1 << np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64)  # at most twice a page's length
        self.page = np.empty(n, dtype=np.int64)  # each row's page (numbered in doc order) and place in it
        self.page[order] = np.cumsum(new_page) - 1
        self.position = np.empty(n, dtype=np.int64)
        self.position[order] = np.arange(n) - starts[self.page[order]]
        self.first_row = order[starts]  # the row at the top of each page
        self.buckets = []  # (rows grid with -1 for padding, lengths) per width
        for w in np.unique(width):
            pages = np.flatnonzero(width == w)
            position = np.arange(w)
            grid = starts[pages][:, None] + position[None, :]
            inside = position[None, :] < lengths[pages][:, None]
            self.buckets.append((np.where(inside, order[np.minimum(grid, n - 1)], -1), lengths[pages]))

    @staticmethod
    def take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """values[rows] with zeros where the grid is padding."""
        out = values[np.maximum(rows, 0)]
        out[rows < 0] = 0
        return out


def _shift(a: np.ndarray, by: int) -> np.ndarray:
    """Along the page axis: out[:, j] = a[:, j - by], zeros where that falls outside."""
    out = np.zeros_like(a)
    if by > 0:
        out[:, by:] = a[:, :-by]
    else:
        out[:, :by] = a[:, -by:]
    return out


# The opening line of an appended section of commentary: it starts the line, unlike a menu's or a comment form's.
_SECTION_OPENER = re.compile(r"^\W*(comment|commentary|editor'?s'? note|editorial|ed(?=:)|our (view|take|verdict|say)|"
                             r"opinion|analysis|why (this|it) matters|the \w+ (view|says|take))\b", re.IGNORECASE)


def _last_marked_above(marked: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per grid cell, the position of the last marked cell strictly above it in its page (-1: none)."""
    at = np.where(marked, idx, -1)
    return _shift(np.maximum.accumulate(at, axis=1), 1) - (idx == 0)


def context_features(X: Sequence[Block], proba: np.ndarray, window: int = 5,
                     content: np.ndarray | None = None) -> np.ndarray:
    """Each block's first-pass probabilities beside those of its neighbours, its section and its page.

    The columns: own, previous 1 and 2, next 1 and 2 (zero beyond the page), mean of the surrounding window, mean of
    all earlier and of all later blocks, page mean, and the page and window means weighted by `content` (each
    block's chance of being content rather than furniture: on a real page menus and teasers outnumber the piece
    and would drown what kind of piece it is); then two cues of an appended commentary section: a commentary
    header line above, and how far below it the block stands; the same two for a header that opens a section
    below content (at least two blocks above it more likely content than furniture), which tells an appended
    "Comment" from an "Opinion" menu item at the top; and the relative position.
    """
    n, k = proba.shape
    content = np.ones(n) if content is None else content
    distinct, text_rows = distinct_texts(X)
    header = np.isin(text_rows, [i for i, t in enumerate(distinct) if len(t) < 60 and _COMMENTARY_HEADER.search(t)])
    opener = np.isin(text_rows, [i for i, t in enumerate(distinct) if len(t) < 60 and _SECTION_OPENER.match(t)])
    out = np.zeros((n, 11 * k + 5), dtype=np.float64)
    for rows, lengths in PageGrid(X).buckets:
        pages, width = rows.shape
        m = lengths[:, None]
        p = PageGrid.take(proba, rows)  # (pages, width, k)
        csum = np.concatenate([np.zeros((pages, 1, k)), np.cumsum(p, axis=1)], axis=1)
        idx = np.broadcast_to(np.arange(width), (pages, width))
        lo, hi = np.maximum(idx - window, 0), np.minimum(idx + window + 1, m)
        at = np.arange(pages)[:, None]
        window_mean = (csum[at, hi] - csum[at, lo] - p) / np.maximum(hi - lo - 1, 1)[..., None]
        before = csum[:, :width] / np.maximum(idx, 1)[..., None]
        after = (csum[at, m] - csum[:, 1:]) / np.maximum(m - idx - 1, 1)[..., None]
        page = np.broadcast_to(csum[at, m] / m[..., None], p.shape)
        w = PageGrid.take(content, rows)[..., None]
        wsum = np.concatenate([np.zeros((pages, 1, k + 1)), np.cumsum(np.concatenate([p * w, w], axis=2), axis=1)],
                              axis=1)
        content_page = np.broadcast_to(wsum[at, m, :k] / np.maximum(wsum[at, m, k], 1e-6)[..., None], p.shape)
        content_window = ((wsum[at, hi, :k] - wsum[at, lo, :k])
                          / np.maximum(wsum[at, hi, k] - wsum[at, lo, k], 1e-6)[..., None])
        # The last commentary header strictly above each block, as a position (-1: none).
        last_header = _last_marked_above(PageGrid.take(header, rows), idx)
        seen = last_header >= 0
        since_header = np.where(seen, 1.0 / (1.0 + idx - np.maximum(last_header, 0)), 0.0)
        content_above = np.cumsum(w[..., 0] > 0.5, axis=1) - (w[..., 0] > 0.5)
        last_section = _last_marked_above(PageGrid.take(opener, rows) & (content_above >= 2), idx)
        in_section = last_section >= 0
        since_section = np.where(in_section, 1.0 / (1.0 + idx - np.maximum(last_section, 0)), 0.0)
        features = np.concatenate([p, _shift(p, 1), _shift(p, 2), _shift(p, -1), _shift(p, -2), window_mean, before,
                                   after, page, content_page, content_window, seen[..., None],
                                   since_header[..., None], in_section[..., None], since_section[..., None],
                                   (idx / np.maximum(m - 1, 1))[..., None]], axis=2)
        inside = rows >= 0
        out[rows[inside]] = features[inside]
    return out


def neighbour_features(X: Sequence[Block], layout: np.ndarray) -> np.ndarray:
    """The layout rows of the blocks just above and below (zero beyond the page), and repetition in the page.

    A teaser reads like a headline; what gives it away is a run of headline-like blocks around it and the same
    line standing elsewhere in the page (rails repeat, the title line repeats the headline).
    """
    n, k = layout.shape
    out = np.zeros((n, 2 * k + 4), dtype=np.float64)
    grid = PageGrid(X)
    for rows, _ in grid.buckets:
        rows_layout = PageGrid.take(layout, rows)
        inside = rows >= 0
        out[rows[inside], :2 * k] = np.concatenate([_shift(rows_layout, 1), _shift(rows_layout, -1)], axis=2)[inside]
    # Repetition: each block's text, normalised, against the others of its page.
    distinct, text_rows = distinct_texts(X)
    normal = [" ".join(t.lower().split()) for t in distinct]
    normal_id = {t: i for i, t in enumerate(dict.fromkeys(normal))}
    text_id = np.fromiter(map(normal_id.__getitem__, normal), dtype=np.int64, count=len(normal))[text_rows]
    _, where, counts = np.unique(grid.page * len(normal_id) + text_id, return_inverse=True, return_counts=True)
    first_seen = np.full(len(counts), n, dtype=np.int64)
    np.minimum.at(first_seen, where, grid.position)
    out[:, 2 * k] = counts[where] > 1
    out[:, 2 * k + 1] = grid.position > first_seen[where]
    # Inside the page's first line (the title line repeats the headline): worth asking for long enough lines only.
    long_enough = np.fromiter((len(t) >= 20 for t in normal), dtype=bool, count=len(normal))[text_rows]
    ask = np.flatnonzero(long_enough & (grid.position > 0))
    titles = text_rows[grid.first_row[grid.page[ask]]]
    out[ask, 2 * k + 2] = [normal[t] in normal[title] for t, title in zip(text_rows[ask].tolist(), titles.tolist())]
    # The title line itself: the first line of a page that holds a later line (the headline, plus " | Site").
    holds = np.bincount(grid.page, weights=out[:, 2 * k + 2], minlength=len(grid.first_row)) > 0
    out[grid.first_row, 2 * k + 3] = holds
    return out


def region_features(X: Sequence[Block], content: np.ndarray) -> np.ndarray:
    """How much the rest of each block's region of the page is content, per level of its element's ancestry.

    A subhead or a bare caption inside an article body sits among long content paragraphs; a teaser that reads
    like news sits among link lines and other teasers. Per level (the block's element, its parent, ...), over the
    other blocks under that element: their mean `content`, the same weighted by their length, how many they are
    (log), and the element's share of the page's content (by length). Blocks without a region (plain paragraphs)
    get their own `content` as the means and zeros for the rest.
    """
    n = len(X)
    out = np.zeros((n, 4 * REGION_LEVELS), dtype=np.float64)
    out[:, 0::4] = out[:, 1::4] = content[:, None]
    regions = [b.structure.region if b.structure is not None else () for b in X]
    # One entry per (block, level): which element it names, so that each element's blocks can be summed.
    depth = np.fromiter(map(len, regions), dtype=np.int64, count=n)
    block = np.repeat(np.arange(n), depth)
    if not len(block):
        return out
    level = np.arange(len(block)) - np.repeat(np.cumsum(depth) - depth, depth)
    number = np.fromiter(chain.from_iterable(regions), dtype=np.int64, count=len(block))
    doc = np.fromiter((b.doc for b in X), dtype=np.int64, count=n)
    length = np.fromiter((len(b.text) for b in X), dtype=np.float64, count=n)
    mass = content * length
    number -= number.min()  # numbers read from a file may be any integers; one key per (page, number)
    _, element = np.unique(doc[block] * (number.max() + 1) + number, return_inverse=True)

    def others(values: np.ndarray) -> np.ndarray:  # per entry: the sum over its element's blocks, less its own
        return np.bincount(element, weights=values[block])[element] - values[block]

    count, mass_others = others(np.ones(n)), others(mass)
    alone = count == 0
    columns = 4 * level
    out[block, columns] = np.where(alone, content[block], others(content) / np.maximum(count, 1))
    out[block, columns + 1] = np.where(alone, content[block], mass_others / np.maximum(others(length), 1))
    out[block, columns + 2] = np.log1p(count)
    page_mass = np.bincount(doc, weights=mass)[doc[block]]
    out[block, columns + 3] = (mass_others + mass[block]) / np.maximum(page_mass, 1e-6)
    return out


def region_feature_names() -> list[str]:
    return [f"region{level}:{name}" for level in range(REGION_LEVELS)
            for name in ("content_others", "content_others_by_length", "log_others", "content_share")]


def neighbour_feature_names() -> list[str]:
    return ([f"prev:{n}" for n in LAYOUT_FEATURE_NAMES] + [f"next:{n}" for n in LAYOUT_FEATURE_NAMES]
            + ["repeated_in_page", "repeated_above", "inside_title_line", "title_line"])


def context_feature_names(classes: Sequence[str]) -> list[str]:
    parts = ("self", "prev1", "prev2", "next1", "next2", "window", "before", "after", "page", "content_page",
             "content_window")
    names = [f"{part}:{c}" for part in parts for c in classes]
    return names + ["commentary_header_above", "near_commentary_header", "section_opener_below_content_above",
                    "near_section_opener", "relative_position"]
