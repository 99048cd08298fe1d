"""Scoring helpers: labels carried from one segmentation of a page to another."""

from segclf.evaluation import transfer_labels, word_bag_scores


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


def test_word_bag_scores_count_repeated_words_and_ignore_case_and_cuts():
    gold = "The council met. The council voted."
    assert word_bag_scores("the COUNCIL met\nthe council voted", gold) == (1.0, 1.0, 1.0)
    precision, recall, f1 = word_bag_scores("The council met. Subscribe now", gold)
    assert (precision, recall) == (3 / 5, 3 / 6) and abs(f1 - 2 * 0.6 * 0.5 / 1.1) < 1e-12
    assert word_bag_scores("", gold) == (0.0, 0.0, 0.0)
