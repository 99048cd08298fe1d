"""Text and context features: quotation shares, layout cues, neighbours."""

import numpy as np
import pytest

from segclf.documents import Block, Structure
from segclf.features import (LAYOUT_FEATURE_NAMES, LayoutFeatures, TextVectorizer, context_feature_names,
                             context_features, neighbour_feature_names, neighbour_features, quoted_share)


@pytest.mark.parametrize("text, low, high", [
    ("“We will not stop,” she said.", 0.6, 0.8),
    ('"We will not stop," she said.', 0.6, 0.8),
    ("‘We will not stop,’ she said.", 0.6, 0.8),
    ("'We will not stop,' she said.", 0.6, 0.8),
    ("The minister said it had been ‘fatally wounded’ in the strike on Tuesday morning.", 0.1, 0.3),
    ("It’s the workers' union that didn’t agree, officials said.", 0.0, 0.0),
    ("“The first paragraph of a long statement runs on without a closing mark", 1.0, 1.0),
    ("No quotation at all.", 0.0, 0.0),
    ("", 0.0, 0.0),
])
def test_quoted_share(text, low, high):
    assert low <= quoted_share(text) <= high


def blocks(texts, structure=None):
    return [Block(0, i, len(texts), t, structure) for i, t in enumerate(texts)]


def test_layout_features_with_and_without_structure():
    plain = LayoutFeatures().fit_transform(blocks(["Home", "“We will be back next year,” he said."]))
    assert plain.shape == (2, len(LAYOUT_FEATURE_NAMES))
    names = list(LAYOUT_FEATURE_NAMES)
    assert plain[1, names.index("quoted_share")] > 0.5 and plain[0, names.index("quoted_share")] == 0
    assert plain[0, names.index("is_first")] == 1 and plain[1, names.index("is_last")] == 1
    nav = Structure(tag="a", cues=frozenset({"nav", "li", "a"}), link_density=1.0, class_tokens="menu")
    rich = LayoutFeatures().fit_transform(blocks(["Home"], nav))
    assert rich[0, names.index("has_structure")] == 1 and rich[0, names.index("in_nav")] == 1
    assert rich[0, names.index("link_density")] == 1.0 and plain[0, names.index("in_nav")] == 0


def test_text_vectorizer_keeps_quotation_marks():
    vectorizer = TextVectorizer(char_ngrams=False, min_df=1).fit(blocks(["“Yes,” she said.", "No."]))
    names = set(vectorizer.get_feature_names_out())
    assert "word:“" in names and "word:”" in names


def test_context_features_see_neighbours_and_stay_within_a_document():
    rows = [Block(0, 0, 2, "a"), Block(0, 1, 2, "b"), Block(1, 0, 1, "c")]
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    features = context_features(rows, proba)
    names = context_feature_names(["x", "y"])
    assert features.shape == (3, len(names))
    col = {n: i for i, n in enumerate(names)}
    assert features[1, col["prev1:x"]] == 1.0 and features[0, col["next1:y"]] == 1.0
    assert features[2, col["prev1:x"]] == 0.0 and features[2, col["next1:x"]] == 0.0  # other page invisible
    assert features[0, col["page:x"]] == 0.5 and features[2, col["page:x"]] == 0.5


def test_context_features_mark_blocks_below_a_commentary_header():
    texts = ["Story text here.", "Continues …", "Comment — Sept 8, 2017", "This is all very well."]
    features = context_features(blocks(texts), np.full((4, 2), 0.5))
    col = context_feature_names(["x", "y"]).index("commentary_header_above")
    assert features[:, col].tolist() == [0, 0, 0, 1]


def test_a_section_opener_counts_below_content_only():
    texts = ["Opinion", "Story text here.", "More of the story.", "Comment — Sept 8, 2017", "This is all very well."]
    content = np.array([0.1, 0.9, 0.9, 0.2, 0.9])  # menu item, story, story, header, comment
    features = context_features(blocks(texts), np.full((5, 2), 0.5), content=content)
    names = context_feature_names(["x", "y"])
    assert features[:, names.index("commentary_header_above")].tolist() == [0, 1, 1, 1, 1]  # the menu item too
    assert features[:, names.index("section_opener_below_content_above")].tolist() == [0, 0, 0, 0, 1]
    assert features[4, names.index("near_section_opener")] == 0.5


def test_the_title_line_and_the_headline_inside_it():
    rows = [Block(0, i, 4, t) for i, t in enumerate(["Council backs the harbour plan – City Post", "Menu",
                                                      "Council backs the harbour plan", "The council voted."])]
    rows.append(Block(1, 0, 1, "Council backs the harbour plan, a page of its own"))  # no title line here
    features = neighbour_features(rows, np.zeros((5, 2)))
    names = neighbour_feature_names()[-4:]
    assert features[:, -4:].tolist() == [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert names == ["repeated_in_page", "repeated_above", "inside_title_line", "title_line"]
