"""Text and context features: quotation shares, layout cues, neighbours."""

import numpy as np
import pytest

from segclf.documents import Block, Structure
from segclf.features import (LAYOUT_FEATURE_NAMES, LayoutFeatures, TextVectorizer, context_feature_names,
                             context_features, neighbour_feature_names, neighbour_features, quoted_share,
                             region_feature_names, region_features)


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
    ("「来年も必ず続けます」と社長は話した。", 0.55, 0.65),  # each Han or kana character is a word: 9 of 15 quoted
    ("「これは大きな一歩だ」", 1.0, 1.0),
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


def test_region_features_read_the_content_around_a_block_in_its_element():
    def at(doc, index, text, region):
        return Block(doc, index, 5, text, Structure(tag="p", region=region))
    # An article (element 1) holding two paragraphs and a subhead; a rail (element 2) of two teasers.
    rows = [at(0, 0, "Long paragraph " * 10, (10, 1)), at(0, 1, "Subhead", (11, 1)),
            at(0, 2, "Another long one " * 10, (12, 1)), at(0, 3, "Teaser one", (13, 2)),
            at(0, 4, "Teaser two", (14, 2)), Block(1, 0, 1, "A plain paragraph")]
    content = np.array([0.9, 0.1, 0.7, 0.2, 0.4, 0.6])
    features = region_features(rows, content)
    col = {n: i for i, n in enumerate(region_feature_names())}
    assert features.shape == (6, len(col))
    assert features[1, col["region1:content_others"]] == pytest.approx(0.8)  # the subhead: its paragraphs
    assert features[3, col["region1:content_others"]] == pytest.approx(0.4)  # a teaser: the other teaser
    assert features[1, col["region0:content_others"]] == pytest.approx(0.1)  # alone in its element: its own
    assert features[1, col["region1:log_others"]] == pytest.approx(np.log(3))
    mass = content[:5] * [len(b.text) for b in rows[:5]]
    assert features[0, col["region1:content_share"]] == pytest.approx(mass[:3].sum() / mass.sum())
    assert features[5, col["region1:content_others"]] == 0.6 and features[5, col["region1:log_others"]] == 0
    # The same number on another page is another element, and any integers will do as numbers (a file may give them).
    two_pages = rows[:3] + [Block(1, 0, 1, "x", Structure(region=(10, 1)))]
    proba = np.r_[content[:3], 0.0]
    assert region_features(two_pages, proba)[1, col["region1:content_others"]] == pytest.approx(0.8)
    shifted = [b._replace(structure=Structure(region=tuple(r - 13 for r in b.structure.region))) for b in two_pages]
    assert np.array_equal(region_features(shifted, proba), region_features(two_pages, proba))


def test_run_in_break_marks_a_teaser_card_cut_as_one_block_and_not_prose():
    from segclf.features import _run_in
    cards = ["Mayor signs budget after late-night vote The council passed the plan 7-2 on Tuesday.",
             "Floods cut off two villages KARIMPUR: Rescue teams reached the area by boat on Monday.",
             "Bridge closure extended until spring 3 hours ago"]
    prose = ["The council passed the plan 7-2 on Tuesday, the mayor said.",
             "\u201cWe did what we could,\u201d She said later.", "She said: \u201cIt was the right call.\u201d"]
    assert all(map(_run_in, cards))
    assert not any(map(_run_in, prose))
    names = list(LAYOUT_FEATURE_NAMES)
    rows = LayoutFeatures().fit_transform([Block(0, 0, 2, cards[0]), Block(0, 1, 2, prose[0])])
    assert rows[:, names.index("run_in_break")].tolist() == [1.0, 0.0]


def test_text_cues_read_scripts_without_spaces_and_their_stops():
    from segclf.features import LAYOUT_FEATURE_NAMES, _text_cues
    def cues(text):
        before, _ = _text_cues(text)
        return dict(zip(LAYOUT_FEATURE_NAMES, before))
    sentence = cues("先日、改造したスマートフォンを販売したとして男性が逮捕された。")
    assert sentence["log_words"] > np.log1p(20)  # a character a word, not one word a sentence
    assert sentence["ends_sentence"] == 1 and sentence["short_no_stop"] == 0
    assert cues("ホーム")["short_no_stop"] == 1
    assert cues("यह एक वाक्य है।")["ends_sentence"] == 1 and cues("هل هذا سؤال؟")["question"] == 1
    assert cues("速報！")["exclamation"] == 1 and cues("詳しくはこちら：")["ends_colon"] == 1
