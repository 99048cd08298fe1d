"""The estimator keeps scikit-learn's conventions and learns the five labels."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from segclf.documents import LABELS, Block, Document, Paragraph, gold_labels, to_blocks
from segclf.evaluation import cross_validate, score
from segclf.model import SegmentClassifier


def test_params_follow_sklearn_conventions():
    model = SegmentClassifier(C=2.0, context=False)
    assert model.get_params()["C"] == 2.0
    copy = clone(model.set_params(C=3.0))
    assert copy.get_params()["C"] == 3.0 and copy.get_params()["context"] is False
    with pytest.raises(Exception):
        model.predict(["text"])  # not fitted


def test_fit_predict_proba(corpus_sample):
    X, y = to_blocks(corpus_sample), np.asarray(gold_labels(corpus_sample))
    model = SegmentClassifier(cv=3).fit(X, y)
    assert set(model.classes_) == set(LABELS)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 5) and np.allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(X) == y).mean() > 0.9  # it fits its training data
    assert model.second_ is not None


def test_same_seed_same_model(corpus_sample):
    docs = corpus_sample[:12]
    X, y = to_blocks(docs), gold_labels(docs)
    a = SegmentClassifier(random_state=3, cv=2).fit(X, y).predict_proba(X)
    b = SegmentClassifier(random_state=3, cv=2).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_accepts_documents_and_strings(corpus_sample):
    model = SegmentClassifier(context=False).fit(corpus_sample[:8], gold_labels(corpus_sample[:8]))
    texts = ["Home", "“We are ready,” the captain said after training on Friday."]
    assert len(model.predict(texts)) == 2
    doc = Document("x", [Paragraph(t) for t in texts])
    per_doc = model.predict_documents([doc, doc])
    assert [p.shape for p in per_doc] == [(2, 5), (2, 5)]
    assert np.allclose(per_doc[0], model.predict_proba(texts))
    assert model.predict([]).shape == (0,)


def test_generalises_to_unseen_outlets(corpus_sample):
    report = cross_validate(lambda: SegmentClassifier(cv=3), corpus_sample, folds=4)
    assert report.n == sum(len(d.paragraphs) for d in corpus_sample)
    assert report.macro_f1 > 0.6, report.format()


def test_grid_search_with_document_groups(corpus_sample):
    docs = corpus_sample[:20]
    X, y = to_blocks(docs), np.asarray(gold_labels(docs))
    groups = [b.doc for b in X]
    search = GridSearchCV(SegmentClassifier(context=False, char_ngrams=False), {"C": [1.0, 8.0]},
                          cv=GroupKFold(n_splits=2), scoring="f1_macro")
    search.fit(X, y, groups=groups)
    assert search.best_params_["C"] in (1.0, 8.0)


def test_score_report():
    report = score(["quote", "quote", "opinion"], ["quote", "opinion", "opinion"])
    assert report.per_label["quote"].recall == 0.5 and report.accuracy == pytest.approx(2 / 3)
    assert report.labels == ["quote", "opinion"] and report.confusion == [[1, 1], [0, 1]]
    assert "macro-F1" in report.format()


@pytest.mark.parametrize("two_labels", [False, True])
def test_folded_second_stage_equals_the_pipeline(corpus_sample, two_labels):
    docs = corpus_sample[:12]
    X, y = to_blocks(docs), np.asarray(gold_labels(docs))
    if two_labels:
        y = np.where(y == "boilerplate", "boilerplate", "content")
    model = SegmentClassifier(cv=2, calibrate=False, context_model="logistic").fit(X, y)
    _, second_input = model.stage_inputs(X)
    pipeline = model.second_.predict_proba(second_input)
    assert np.allclose(model.predict_proba(X), pipeline, atol=1e-12)


@pytest.mark.parametrize("context_model", ["trees", "logistic"])
def test_both_second_stages_learn_and_explain(corpus_sample, context_model):
    from segclf.explain import explain_paragraph

    docs = corpus_sample[:12]
    X, y = to_blocks(docs), np.asarray(gold_labels(docs))
    model = SegmentClassifier(cv=2, context_model=context_model).fit(X, y)
    assert model.context_model_ == context_model and (model.predict(X) == y).mean() > 0.9
    without = SegmentClassifier(cv=2, context=False).fit(X, y)
    assert not np.allclose(model.predict_proba(X), without.predict_proba(X))  # stage two changes the scores
    report = explain_paragraph(model, docs[0], 1)
    assert report["scores"] == pytest.approx(dict(zip(model.classes_, model.predict_proba(to_blocks(docs[:1]))[1])))
    pushes = report["pushes"]["neighbours and page (stage two)"]
    assert pushes and all(p.feature.split(":")[0] in ("context", "layout", "neighbour", "page", "placed", "region")
                      for p in pushes)


def test_stage_one_reads_a_block_without_its_place_and_stage_two_reads_both(corpus_sample):
    docs = corpus_sample[:12]
    model = SegmentClassifier(cv=2, context_model="logistic").fit(to_blocks(docs), np.asarray(gold_labels(docs)))
    text = docs[0].paragraphs[3].text
    early, late = [Block(0, 0, 3, text), Block(0, 1, 3, "x"), Block(0, 2, 3, "y")], \
        [*(Block(0, i, 200, "x") for i in range(199)), Block(0, 199, 200, text)]
    (alone_early, second_early), (alone_late, second_late) = model.stage_inputs(early), model.stage_inputs(late)
    assert np.allclose(model.first_.predict_proba(alone_early[:1]), model.first_.predict_proba(alone_late[-1:]))
    placed = [f"placed:{c}" for c in model.classes_]
    from segclf.explain import second_stage_names
    columns = [second_stage_names(model).index(name) for name in placed]
    assert not np.allclose(second_early[0, columns], second_late[-1, columns])  # the placed regression sees it


def test_trees_label_in_slices_with_the_same_result(corpus_sample):
    from segclf.model import _chunked_predict_proba

    docs = corpus_sample[:6]
    model = SegmentClassifier(cv=2, context_model="trees").fit(to_blocks(docs), gold_labels(docs))
    rows = np.random.default_rng(0).normal(size=(50, model.second_.n_features_in_))
    assert np.array_equal(_chunked_predict_proba(model.second_, rows, rows=7), model.second_.predict_proba(rows))


def test_auto_takes_trees_from_enough_paragraphs(corpus_sample, monkeypatch):
    import segclf.model

    docs = corpus_sample[:6]
    X, y = to_blocks(docs), gold_labels(docs)
    assert SegmentClassifier(cv=2).fit(X, y).context_model_ == "logistic"  # a few hundred paragraphs
    assert SegmentClassifier(cv=2, context=False).fit(X, y).context_model_ is None
    monkeypatch.setattr(segclf.model, "TREES_FROM", len(X))
    assert SegmentClassifier(cv=2).fit(X, y).context_model_ == "trees"


def test_an_unknown_second_stage_is_refused(corpus_sample):
    with pytest.raises(ValueError, match="context_model must be one of auto, trees, logistic, not 'forest'"):
        SegmentClassifier(context_model="forest").fit(corpus_sample[:4], gold_labels(corpus_sample[:4]))


def test_without_structure_html_blocks_read_as_plain_paragraphs(corpus_sample):
    from segclf.documents import Structure

    docs = corpus_sample[:12]
    nav = Structure(tag="a", cues=frozenset({"nav", "li", "a"}), link_density=1.0, class_tokens="menu")
    marked = [Document(d.id, [Paragraph(p.text, p.label, nav if p.label == "boilerplate" else None)
                              for p in d.paragraphs]) for d in docs]
    plain, y = to_blocks(docs), gold_labels(docs)
    blind = SegmentClassifier(cv=2, structure=False).fit(to_blocks(marked), y)
    assert np.array_equal(blind.predict_proba(to_blocks(marked)), blind.predict_proba(plain))
    seeing = SegmentClassifier(cv=2).fit(to_blocks(marked), y)  # the default learns the markup
    assert not np.allclose(seeing.predict_proba(to_blocks(marked)), seeing.predict_proba(plain))


def test_regions_let_stage_two_see_the_element_around_a_block(corpus_sample):
    from segclf.documents import Structure
    from segclf.features import region_feature_names

    docs = corpus_sample[:12]
    # Each page's content in one element of it, its furniture in another: what stage two may learn from.
    marked = [Document(d.id, [Paragraph(p.text, p.label, Structure(region=(i, int(p.label == "boilerplate"))))
                              for i, p in enumerate(d.paragraphs)]) for d in docs]
    plain, y = to_blocks(docs), gold_labels(docs)
    blind = SegmentClassifier(cv=2, structure=False, regions=False).fit(to_blocks(marked), y)
    assert np.array_equal(blind.predict_proba(to_blocks(marked)), blind.predict_proba(plain))
    seeing = SegmentClassifier(cv=2, structure=False).fit(to_blocks(marked), y)
    assert seeing.second_[-1].n_features_in_ == blind.second_[-1].n_features_in_ + len(region_feature_names())
    assert not np.allclose(seeing.predict_proba(to_blocks(marked)), seeing.predict_proba(plain))
