"""The fast feature paths give exactly the matrices scikit-learn's own transforms give."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from segclf.documents import Block
from segclf.features import TextVectorizer

TEXTS = ["Police said on Monday that the suspect had fled.", "“We will win,” she said.", "", " ", "a", "ab",
         "  spaced   out\ttext\n\nhere ", "Ünïcödé ² ³ 12 — naïve café", "Home", "Home",
         "I think we should act!",
         "x" * 300, "Read more: https://example.com/a?b=c @handle #tag", "“Quoted” ‘single’ «guillemets»",
         "— Ann Lee (@annlee) May 2, 2025", "  – a spaced en dash"]


def same(a, b) -> bool:
    a, b = sparse.csr_matrix(a), sparse.csr_matrix(b)
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


def test_fast_paths_match_scikit_learn():
    vectorizer = TextVectorizer(min_df=1).fit([Block(0, i, len(TEXTS), t) for i, t in enumerate(TEXTS[:8])])
    blocks = [Block(0, i, len(TEXTS), t) for i, t in enumerate(TEXTS)]
    expected = sparse.hstack([vectorizer.word_.transform(TEXTS), vectorizer.char_.transform(TEXTS)], format="csr")
    for _ in range(2):  # the second time from the cached keys
        assert same(vectorizer.transform(blocks), expected)


def test_layout_rows_cached_per_text_and_counted_as_before():
    from segclf.features import LAYOUT_FEATURE_NAMES, LayoutFeatures, _layout_row, _text_cues
    digit_share, upper_share = (LAYOUT_FEATURE_NAMES.index(name) for name in ("digit_share", "upper_share"))
    blocks = [Block(0, i, len(TEXTS), t) for i, t in enumerate(TEXTS)]
    rows = np.asarray([_layout_row(b) for b in blocks], dtype=np.float64)
    assert np.array_equal(LayoutFeatures().fit(blocks).transform(blocks), rows)
    for text in TEXTS + ["ÀÉÎ abc 123", "ＡＢＣ１２３"]:  # the ASCII fast path and the general one agree
        stripped = text.strip()
        letters = [c for c in stripped if c.isalpha()]
        before, _ = _text_cues(text)
        assert before[digit_share] == sum(c.isdigit() for c in stripped) / max(len(stripped), 1)
        assert before[upper_share] == sum(c.isupper() for c in letters) / (len(letters) or 1)


# Texts that stress the batch paths: odd whitespace, Kelvin signs, underscores, numerals, quotation marks.
HARD = TEXTS + ["said \x1c the\u2003man\x85 here\u00a0now", "asKed ＫELVIN İ MY mY i_said We'RE", "Ⅷ Ⅻ ² ½ ٣",
                "“open ‘nested’ still” out", "‚low‘ „high“ «fr» ‹x›", "don't it’s 'tis the workers' union",
                "\"straight\" 'single' end'", "“unclosed quote runs to the end", "»reversed« ›marks‹", "'", "“",
                "x - y | z © Copyright http www. @", "Title case Words Here: yes?", "”.", "end.”", "ünïcödé Wörds",
                "_ __init__ a_b", "WE OUR Us you YOURSELF should Perhaps", "\ud800 lone surrogate",
                "社長は「来年も続ける」と話した。", "「これは一歩だ」", "・メニュー iPhoneを販売", "他说：“我们准备好了。”",
                "『二重』の「括弧", "Он сказал: «Мы готовы».", "यह एक वाक्य है।", "هل هذا سؤال؟", "速報！ ＡＢＣ：", "漢"]


def test_vectorized_text_paths_match_scikit_learn():
    from segclf.features import _char_wb_transform_vectorized, _word_transform_vectorized
    vectorizer = TextVectorizer(min_df=1).fit([Block(0, i, len(HARD), t) for i, t in enumerate(HARD[::2])])
    for _ in range(2):
        assert same(_char_wb_transform_vectorized(vectorizer.char_, HARD), vectorizer.char_.transform(HARD))
        assert same(_word_transform_vectorized(vectorizer.word_, HARD), vectorizer.word_.transform(HARD))
    assert same(_word_transform_vectorized(vectorizer.word_, [""]), vectorizer.word_.transform([""]))


def test_text_cues_batch_matches_text_cues():
    from segclf.features import _text_cues, _text_cues_batch
    before, after = _text_cues_batch(HARD)
    for i, text in enumerate(HARD):
        b, a = _text_cues(text)
        assert np.array_equal(before[i], np.asarray(b, dtype=np.float64)), text
        assert np.array_equal(after[i], np.asarray(a, dtype=np.float64)), text
    empty_before, empty_after = _text_cues_batch([])
    assert empty_before.shape == (0, 21) and empty_after.shape == (0, 5)


def test_log1p_of_counts_is_the_same_scalar_or_vector():
    counts = np.arange(0, 20_000)
    assert np.array_equal(np.log1p(counts.astype(np.float64)), np.asarray([np.log1p(int(c)) for c in counts]))


def test_only_kelvin_lowercases_to_ascii():
    import sys
    from segclf.features import _KELVIN
    assert [c for c in range(128, sys.maxunicode + 1) if chr(c).lower().isascii()] == [_KELVIN]


def test_layout_rows_with_structure_match_layout_row():
    from segclf.documents import Structure
    from segclf.features import LayoutFeatures, _layout_row
    structures = [None, Structure("p"), Structure("h2", frozenset({"nav", "a"}), 0.5),
                  Structure("li", frozenset({"li"}), 1), Structure("h2", frozenset({"nav", "a"}), 0.25)]
    blocks = [Block(i % 3, i, len(HARD) + 2, t, structures[i % len(structures)]) for i, t in enumerate(HARD)]
    rows = np.asarray([_layout_row(b) for b in blocks], dtype=np.float64)
    assert np.array_equal(LayoutFeatures().fit(blocks).transform(blocks), rows)
    assert LayoutFeatures().fit([]).transform([]).shape == rows[:0].shape
