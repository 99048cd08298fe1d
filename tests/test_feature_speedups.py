"""The fast feature paths give exactly the matrices scikit-learn's own transforms give."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from segclf.documents import Block
from segclf.features import TextVectorizer, _char_wb_transform, _word_transform

TEXTS = ["Police said on Monday that the suspect had fled.", "“We will win,” she said.", "", " ", "a", "ab",
         "  spaced   out\ttext\n\nhere ", "Ünïcödé ² ³ 12 — naïve café", "Home", "Home",
         "I think we should act!",
         "x" * 300, "Read more: https://example.com/a?b=c @handle #tag", "“Quoted” ‘single’ «guillemets»"]


def same(a, b) -> bool:
    a, b = sparse.csr_matrix(a), sparse.csr_matrix(b)
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


def test_fast_paths_match_scikit_learn():
    vectorizer = TextVectorizer(min_df=1).fit([Block(0, i, len(TEXTS), t) for i, t in enumerate(TEXTS[:8])])
    for _ in range(2):  # the second time from the word cache
        assert same(_char_wb_transform(vectorizer.char_, TEXTS), vectorizer.char_.transform(TEXTS))
        assert same(_word_transform(vectorizer.word_, TEXTS), vectorizer.word_.transform(TEXTS))
    blocks = [Block(0, i, len(TEXTS), t) for i, t in enumerate(TEXTS)]
    expected = sparse.hstack([vectorizer.word_.transform(TEXTS), vectorizer.char_.transform(TEXTS)], format="csr")
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
