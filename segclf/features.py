"""Feature transformers over estimator rows (segclf.documents.Block): text, layout and page context.

All are scikit-learn transformers without I/O, so they can be reused in users' own pipelines.
"""

from __future__ import annotations

import re
from collections import Counter
import weakref
from typing import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from segclf.documents import STRUCTURE_CUES, Block, Structure

# Quotation marks are evidence for `quote`, so the word tokenizer keeps them (the default one drops them).
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b|[“”„‘’‚\"'«»‹›?!:|©@#—–()\[\]]"

_WORD = re.compile(r"\w+", re.UNICODE)
_ATTRIBUTION = frozenset("said says say told tells according added adds stated wrote writes explained asked "
                         "insisted warned claimed noted argued replied announced".split())
_FIRST_SINGULAR = frozenset("i me my mine myself i'm i've i'd i'll".split())
_FIRST_PLURAL = frozenset("we us our ours ourselves".split())
_SECOND = frozenset("you your yours yourself".split())
_MODAL = frozenset("should must ought shouldn need needs would could might perhaps surely clearly".split())
_TAGS = ("p", "h", "li", "td", "div", "span", "figcaption", "blockquote", "a", "time")
_OPENERS = {"“": "”", "„": "“", "«": "»", "‹": "›", "‘": "’", "‚": "‘", '"': '"', "'": "'"}
_APOSTROPHES = {"’", "'"}
_QUOTE_MARKS = frozenset(_OPENERS) | {"”"}
_ASCII_DIGITS = b"0123456789"
_ASCII_CAPITALS = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LETTERS = _ASCII_CAPITALS + bytes(range(ord("a"), ord("z") + 1))


def block_texts(blocks: Sequence[Block]) -> list[str]:
    return [b.text for b in blocks]


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
            if not prev_alnum:  # a new word starts
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
        float(last in "”\"’'»" or text.endswith(("”.", "\".", "’.", "',"))),
        float(not _QUOTE_MARKS.isdisjoint(text)),
        digits / max(len(text), 1),
        upper / n_letters,
        sum(w[:1].isupper() for w in words) / n_words,
        float(last in ".!?"),
        float(last == ":"),
        float(last not in ".!?”\"’'" and len(words) <= 8),
        sum(map(_FIRST_SINGULAR.__contains__, lower)) / n_words,
        sum(map(_FIRST_PLURAL.__contains__, lower)) / n_words,
        sum(map(_SECOND.__contains__, lower)) / n_words,
        sum(map(_MODAL.__contains__, lower)) / n_words,
        float("?" in text),
        float("!" in text),
        float(not _ATTRIBUTION.isdisjoint(lower)),
    ]
    after = [
        float(" | " in text or " - " in text[-40:]),
        float("©" in text or "copyright" in text.lower()),
        float("@" in text or "http" in text or "www." in text),
    ]
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
    "copyright", "handle_or_link", "has_structure", "link_density",
    *(f"in_{c}" for c in STRUCTURE_CUES), *(f"tag_{t}" for t in _TAGS),
)


class LayoutFeatures(BaseEstimator, TransformerMixin):
    """Dense cues a bag of words misses: length, quotation share, case, person, position, HTML structure."""

    def fit(self, X: Sequence[Block], y=None):
        self.n_features_out_ = len(LAYOUT_FEATURE_NAMES)
        return self

    def transform(self, X: Sequence[Block]) -> np.ndarray:
        # Pages repeat their menus and footers: the text part of a row is worked out once per distinct text.
        cache: dict[str, tuple[list[float], list[float]]] = {}
        rows = []
        for b in X:
            cues = cache.get(b.text)
            if cues is None:
                cues = cache[b.text] = _text_cues(b.text)
            rows.append(_layout_row(b, cues))
        return np.asarray(rows, dtype=np.float64).reshape(len(X), len(LAYOUT_FEATURE_NAMES))

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
        parts = [_word_transform(self.word_, distinct)]
        if self.char_ is not None:
            parts.append(_char_wb_transform(self.char_, distinct))
        return sparse.hstack(parts, format="csr")[rows]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = [f"word:{t}" for t in self.word_.get_feature_names_out()]
        if self.char_ is not None:
            names += [f"char:{t}" for t in self.char_.get_feature_names_out()]
        return np.asarray(names, dtype=object)


# Distinct words seen by each fitted char_wb vectorizer, with their n-grams' vocabulary indices. Kept across calls,
# since crawled text repeats its words batch after batch; emptied when full, so memory stays bounded.
_WORD_NGRAMS: "weakref.WeakKeyDictionary[TfidfVectorizer, dict[str, list[int]]]" = weakref.WeakKeyDictionary()
_WORD_NGRAMS_MAX = 200_000


def _char_wb_transform(vectorizer: TfidfVectorizer, texts: list[str]):
    """`vectorizer.transform(texts)` for a char_wb TfidfVectorizer: the same matrix, several times faster.

    char_wb n-grams never cross a word boundary, so a text's counts are the sum of its words' counts, and each
    distinct word is cut into n-grams once. The counts then go through the vectorizer's own TF-IDF step.
    A configuration this does not reproduce goes to scikit-learn's own transform.
    """
    if (vectorizer.analyzer != "char_wb" or vectorizer.lowercase or vectorizer.preprocessor is not None
            or vectorizer.strip_accents is not None or vectorizer.binary or vectorizer.input != "content"
            or not hasattr(vectorizer, "_tfidf")):
        return vectorizer.transform(texts)
    vocabulary = vectorizer.vocabulary_
    min_n, max_n = vectorizer.ngram_range
    squeeze = vectorizer._white_spaces.sub  # the whitespace normalisation of scikit-learn's analyzer
    ids_of_word = _WORD_NGRAMS.setdefault(vectorizer, {})
    if len(ids_of_word) > _WORD_NGRAMS_MAX:
        ids_of_word.clear()
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        for word in squeeze(" ", text).split():
            ids = ids_of_word.get(word)
            if ids is None:
                ids = []
                padded = f" {word} "
                size = len(padded)
                for n in range(min_n, max_n + 1):
                    for start in range(max(size - n + 1, 1)):  # a word shorter than n counts once, whole
                        index = vocabulary.get(padded[start:start + n])
                        if index is not None:
                            ids.append(index)
                    if size <= n:
                        break
                ids_of_word[word] = ids
            indices.extend(ids)
        indptr.append(len(indices))
    return vectorizer._tfidf.transform(_counts(indices, indptr, len(vocabulary), vectorizer.dtype), copy=False)


def _word_transform(vectorizer: TfidfVectorizer, texts: list[str]):
    """`vectorizer.transform(texts)` for a lowercasing word-n-gram TfidfVectorizer without stop words: the same
    tokens (token_pattern on the lowercased text), unigrams then the longer n-grams, looked up directly."""
    if (vectorizer.analyzer != "word" or not vectorizer.lowercase or vectorizer.preprocessor is not None
            or vectorizer.tokenizer is not None or vectorizer.stop_words is not None
            or vectorizer.strip_accents is not None or vectorizer.binary or vectorizer.input != "content"
            or vectorizer.ngram_range[0] != 1 or not hasattr(vectorizer, "_tfidf")):
        return vectorizer.transform(texts)
    vocabulary = vectorizer.vocabulary_
    tokenize = vectorizer.build_tokenizer()
    max_n = vectorizer.ngram_range[1]
    get = vocabulary.get
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        tokens = tokenize(text.lower())
        indices.extend(i for i in map(get, tokens) if i is not None)
        for n in range(2, min(max_n, len(tokens)) + 1):
            grams = map(" ".join, zip(*(tokens[k:] for k in range(n))))
            indices.extend(i for i in map(get, grams) if i is not None)
        indptr.append(len(indices))
    return vectorizer._tfidf.transform(_counts(indices, indptr, len(vocabulary), vectorizer.dtype), copy=False)


def _counts(indices: list[int], indptr: list[int], width: int, dtype) -> sparse.csr_matrix:
    """A count matrix as scikit-learn's CountVectorizer makes it: duplicates summed, indices sorted."""
    counts = sparse.csr_matrix((np.ones(len(indices), dtype=dtype), np.asarray(indices, dtype=np.int32),
                                np.asarray(indptr, dtype=np.int32)), shape=(len(indptr) - 1, width))
    counts.sum_duplicates()
    return counts


# Short lines that open a section of commentary on republished pages ("Comment", "Editor's note", "Our view").
_COMMENTARY_HEADER = re.compile(r"\b(comment|commentary|editor|editorial|ed|note|view|take|opinion|analysis|"
                                r"matters|verdict|perspective)\b", re.IGNORECASE)


def document_groups(X: Sequence[Block]) -> list[np.ndarray]:
    """Row indices of each document, in page order."""
    groups: dict[int, list[int]] = {}
    for row, b in enumerate(X):
        groups.setdefault(b.doc, []).append(row)
    return [np.asarray(sorted(rows, key=lambda r: X[r].index)) for rows in groups.values()]


def context_features(X: Sequence[Block], proba: np.ndarray, window: int = 5,
                     content: np.ndarray | None = None) -> np.ndarray:
    """Each block's first-pass probabilities beside those of its neighbours, its section and its page.

    The columns: own, previous 1 and 2, next 1 and 2 (zero beyond the page), mean of the surrounding window, mean of
    all earlier and of all later blocks, page mean, and the page and window means weighted by `content` (each
    block's chance of being content rather than furniture: on a real page menus and teasers outnumber the piece
    and would drown what kind of piece it is); then two cues of an appended commentary section: a commentary
    header line above, and how far below it the block stands; and the relative position.
    """
    n, k = proba.shape
    content = np.ones(n) if content is None else content
    out = np.zeros((n, 11 * k + 3), dtype=np.float64)
    for rows in document_groups(X):
        p = proba[rows]
        m = len(rows)
        pad = np.vstack([np.zeros((2, k)), p, np.zeros((2, k))])
        csum = np.vstack([np.zeros((1, k)), np.cumsum(p, axis=0)])
        idx = np.arange(m)
        lo, hi = np.maximum(idx - window, 0), np.minimum(idx + window + 1, m)
        window_mean = (csum[hi] - csum[lo] - p) / np.maximum(hi - lo - 1, 1)[:, None]
        before = csum[idx] / np.maximum(idx, 1)[:, None]
        after = (csum[m] - csum[idx + 1]) / np.maximum(m - idx - 1, 1)[:, None]
        page = np.broadcast_to(csum[m] / m, (m, k))
        w = content[rows][:, None]
        wsum = np.vstack([np.zeros((1, k + 1)), np.cumsum(np.hstack([p * w, w]), axis=0)])
        content_page = np.broadcast_to(wsum[m, :k] / max(wsum[m, k], 1e-6), (m, k))
        content_window = (wsum[hi, :k] - wsum[lo, :k]) / np.maximum(wsum[hi, k] - wsum[lo, k], 1e-6)[:, None]
        header_seen = np.zeros(m)
        since_header = np.zeros(m)
        last_header = -1
        for j, r in enumerate(rows):
            if last_header >= 0:
                header_seen[j] = 1.0
                since_header[j] = 1.0 / (1.0 + j - last_header)
            text = X[r].text
            if len(text) < 60 and _COMMENTARY_HEADER.search(text):
                last_header = j
        out[rows] = np.hstack([p, pad[1:m + 1], pad[0:m], pad[3:m + 3], pad[4:m + 4], window_mean, before, after,
                               page, content_page, content_window, header_seen[:, None], since_header[:, None],
                               (idx / max(m - 1, 1))[:, None]])
    return out


def neighbour_features(X: Sequence[Block], layout: np.ndarray) -> np.ndarray:
    """The layout rows of the blocks just above and below (zero beyond the page), and repetition in the page.

    A teaser reads like a headline; what gives it away is a run of headline-like blocks around it and the same
    line standing elsewhere in the page (rails repeat, the title line repeats the headline).
    """
    n, k = layout.shape
    out = np.zeros((n, 2 * k + 3), dtype=np.float64)
    for rows in document_groups(X):
        m = len(rows)
        pad = np.vstack([np.zeros((1, k)), layout[rows], np.zeros((1, k))])
        texts = [" ".join(X[r].text.lower().split()) for r in rows]
        counts = Counter(texts)
        seen: set[str] = set()
        repeated_above = []
        for text in texts:
            repeated_above.append(text in seen)
            seen.add(text)
        title = texts[0]
        in_title = [j > 0 and len(t) >= 20 and t in title for j, t in enumerate(texts)]
        out[rows] = np.hstack([pad[0:m], pad[2:m + 2],
                               np.asarray([[counts[t] > 1, above, titled]
                                           for t, above, titled in zip(texts, repeated_above, in_title)], float)])
    return out


def neighbour_feature_names() -> list[str]:
    return ([f"prev:{n}" for n in LAYOUT_FEATURE_NAMES] + [f"next:{n}" for n in LAYOUT_FEATURE_NAMES]
            + ["repeated_in_page", "repeated_above", "inside_title_line"])


def context_feature_names(classes: Sequence[str]) -> list[str]:
    parts = ("self", "prev1", "prev2", "next1", "next2", "window", "before", "after", "page", "content_page",
             "content_window")
    names = [f"{part}:{c}" for part in parts for c in classes]
    return names + ["commentary_header_above", "near_commentary_header", "relative_position"]
