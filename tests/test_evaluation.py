"""Scoring helpers: labels carried from one segmentation of a page to another."""

from segclf.evaluation import transfer_labels


def test_labels_follow_the_words_across_splits_and_merges():
    texts = ["Home News", "The mayor said on Monday that taxes would rise.", "“Never,” she said.", "Dropped here"]
    blocks = [("Home News The mayor said", "boilerplate"), ("on Monday that taxes would rise.", "reported"),
              ("“Never,” she said.", "quote")]
    # the second text's words: 3 of 9 in a boilerplate block, 6 in a reported one -> reported (most of its words)
    assert transfer_labels(texts, blocks) == ["boilerplate", "reported", "quote", None]


def test_a_text_found_only_in_part_is_dropped_and_one_without_words_matches_by_containment():
    texts = ["one two three four five", "‹ ›"]
    blocks = [("one two", "reported"), ("‹ › ×", "boilerplate")]
    assert transfer_labels(texts, blocks) == [None, "boilerplate"]  # 2 of 5 words found: not enough
