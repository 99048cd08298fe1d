"""The estimator: TF-IDF and layout features into logistic regression, then a second, context-aware stage.

Stage one scores each block alone, from its words and shape but not its place on the page (see PLACE_FEATURES).
Stage two sees each block's first-pass probabilities beside those of its neighbours and its page (see
segclf.features.context_features) and of a second first-pass regression that also knows the place; during fit it
learns from out-of-fold first-pass probabilities, so that it sees the same kind of scores it will see at
prediction time. Stage two is gradient-boosted trees when there is enough to learn them from
(`context_model="auto"`, see TREES_FROM, or "trees"): what a neighbourhood means depends on the block itself (a
news-like sentence between furniture lines is a teaser, between paragraphs it is the story), which a linear stage
cannot weigh; `context_model="logistic"` is the linear stage, faster to label with.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from scipy.optimize import minimize_scalar
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.utils.validation import check_is_fitted

from segclf.documents import Block, Document, to_blocks
from segclf.features import (LAYOUT_FEATURE_NAMES, LayoutFeatures, TextVectorizer, context_features,
                             neighbour_features, region_features)


CONTEXT_MODELS = ("auto", "trees", "logistic")  # what stage two can be
# "auto" takes trees from this many training paragraphs: on fewer, trees were no better (1,400 to 3,300 paragraphs
# of 2 and 4 training outlets: 0.695 and 0.842 held-out macro-F1 against the logistic stage's 0.681 and 0.854), and
# on a handful of paragraphs they cannot split at all; from 7,300 (8 outlets) on they were better (0.875 vs 0.867).
TREES_FROM = 5_000
# The layout columns that say where a block sits on its page. Stage one reads each block without them: on most
# pages a news sentence late on a long page is a teaser of another story, and a stage one that knew the place
# learnt to call short stories under long menus furniture, which its neighbours and region (stage two) then
# echoed. A second logistic regression reads the place too; stage two gets its probabilities beside the rest
# (a model without stage two, context=False, labels without the place).
PLACE_FEATURES = ("relative_position", "is_first", "is_last", "log_doc_length")
_PLACE_COLUMNS = [LAYOUT_FEATURE_NAMES.index(name) for name in PLACE_FEATURES]


def as_blocks(X) -> list[Block]:
    """Accept estimator rows, documents, or plain strings (read as the paragraphs of one document, in order)."""
    X = list(X)
    if not X or isinstance(X[0], Block):
        return X
    if isinstance(X[0], Document):
        return to_blocks(X)
    if isinstance(X[0], str):
        return [Block(0, i, len(X), t) for i, t in enumerate(X)]
    raise TypeError(f"expected Block, Document or str rows, got {type(X[0]).__name__}")


def split_predict_proba(logistic: LogisticRegression, parts: list, scaler: StandardScaler | None = None):
    """logistic.predict_proba of the parts side by side (scaled first, if a scaler is given) without putting them
    side by side: each part meets its own slice of the coefficients, and the scaler folds into them. Building
    the wide matrix took a third of the time of labeling."""
    coef, intercept = logistic.coef_, logistic.intercept_
    if scaler is not None:
        coef = coef / scaler.scale_
        intercept = intercept - coef @ scaler.mean_
    decision = np.empty((parts[0].shape[0], len(coef)))
    decision[:] = intercept
    start = 0
    for part in parts:
        decision += part @ coef[:, start:start + part.shape[1]].T
        start += part.shape[1]
    if len(coef) == 1:  # two classes: one decision, as LogisticRegression.predict_proba reads it
        positive = expit(decision[:, 0])
        return np.column_stack([1.0 - positive, positive])
    return softmax(decision, axis=1)


def without_place(layout: np.ndarray) -> np.ndarray:
    """Scaled layout rows with the PLACE_FEATURES columns at 0 (their mean: no pull either way)."""
    alone = layout.copy()
    alone[:, _PLACE_COLUMNS] = 0.0
    return alone


def _chunked_predict_proba(estimator, X: np.ndarray, rows: int = 2048) -> np.ndarray:
    """estimator.predict_proba in slices of rows: trees walk the whole input once per tree, and a slice that stays
    in the CPU cache labels twice as fast as tens of thousands of rows at once."""
    if len(X) <= rows:
        return estimator.predict_proba(X)
    return np.vstack([estimator.predict_proba(X[start:start + rows]) for start in range(0, len(X), rows)])


def temper(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Soften (temperature > 1) or sharpen (< 1) probabilities without changing which label is on top."""
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, 1e-300, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    tempered = np.exp(logits)
    return tempered / tempered.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    """The temperature that makes out-of-fold probabilities fit their labels best (least log loss).

    Class weights and a stacked second stage leave a logistic regression over- or under-confident; one
    temperature (Guo et al., 2017) corrects the confidence and keeps every label as it was.
    """
    truth = np.searchsorted(classes, y)

    def loss(log_t: float) -> float:
        return -float(np.mean(np.log(np.clip(temper(proba, float(np.exp(log_t)))[np.arange(len(y)), truth],
                                              1e-15, 1.0))))
    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))


class SegmentClassifier(ClassifierMixin, BaseEstimator):
    """Paragraph classifier for news pages, with scikit-learn's fit / predict / predict_proba.

    X is a sequence of segclf.documents.Block (see `to_blocks`), of Documents, or of strings (one document).
    Rows of one document must share `Block.doc`; their page order comes from `Block.index`.
    """

    def __init__(self, C: float = 8.0, char_ngrams: bool = False, word_max_features: int = 100_000,
                 char_max_features: int = 100_000, class_weight: str | None = None, context: bool = True,
                 context_C: float = 0.02, context_model: str = "auto", context_trees: int = 60,
                 context_learning_rate: float = 0.2, context_leaves: int = 15, calibrate: bool = True, cv: int = 5,
                 max_iter: int = 2000, n_jobs: int | None = None, random_state: int = 0, structure: bool = True,
                 regions: bool = True):
        self.C = C
        self.char_ngrams = char_ngrams
        self.word_max_features = word_max_features
        self.char_max_features = char_max_features
        self.class_weight = class_weight
        self.context = context
        self.context_C = context_C  # stage two's regularisation, when it is a logistic regression
        self.context_model = context_model  # stage two: "trees" (gradient boosting), "logistic" or "auto"
        self.context_trees = context_trees  # boosting rounds (each one tree per label)
        self.context_learning_rate = context_learning_rate
        self.context_leaves = context_leaves  # leaves per tree
        self.calibrate = calibrate  # temperature-scale the final probabilities (labels unchanged)
        self.cv = cv
        self.max_iter = max_iter
        self.n_jobs = n_jobs  # processes for the out-of-fold fits
        self.random_state = random_state
        self.structure = structure  # learn from the blocks' HTML structure (tag, ancestors, link density)
        self.regions = regions  # stage two reads how much content surrounds a block in its region of the page

    # -- features ---------------------------------------------------------------------------------------------
    def _features(self, X: list[Block]):
        """Stage one's features (words, then layout without the place), the words alone and the scaled layout."""
        text, layout = self.text_.transform(X), self.layout_.transform(X)
        return sparse.hstack([text, sparse.csr_matrix(without_place(layout))], format="csr"), text, layout

    def _logistic(self, C: float) -> LogisticRegression:
        return LogisticRegression(C=C, class_weight=self.class_weight, max_iter=self.max_iter,
                                  random_state=self.random_state)

    def _context_estimator(self, rows: int):
        if self.context_model not in CONTEXT_MODELS:
            raise ValueError(f"context_model must be one of {', '.join(CONTEXT_MODELS)}, not {self.context_model!r}")
        if self.context_model == "trees" or (self.context_model == "auto" and rows >= TREES_FROM):
            return HistGradientBoostingClassifier(max_iter=self.context_trees, learning_rate=self.context_learning_rate,
                                                  max_leaf_nodes=self.context_leaves, l2_regularization=1.0,
                                                  early_stopping=False, random_state=self.random_state)
        return make_pipeline(StandardScaler(), self._logistic(self.context_C))

    def _out_of_fold_proba(self, estimator, features, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Probabilities of each row from a copy of `estimator` fitted without its document.

        What feeds `estimator` (the vectorizers; stage one's out-of-fold scores for stage two) is made once from
        all rows; only `estimator` is refitted per fold (cheap, and the leak of document frequencies is small next
        to the label leak this avoids).
        """
        folds = list(GroupKFold(n_splits=min(self.cv, len(np.unique(groups)))).split(features, y, groups))
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(clone(estimator).fit)(features[train], y[train]) for train, _ in folds)
        proba = np.zeros((features.shape[0], len(self.classes_)))
        for (_, test), fold in zip(folds, fitted):
            proba[np.ix_(test, np.searchsorted(self.classes_, fold.classes_))] = fold.predict_proba(features[test])
        return proba

    # -- the estimator API ------------------------------------------------------------------------------------
    def fit(self, X, y):
        X = as_blocks(X)
        y = np.asarray(y)
        second = self._context_estimator(len(X)) if self.context else None  # a bad context_model fails before the work
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        self.classes_ = np.unique(y)
        self.text_ = TextVectorizer(word_max_features=self.word_max_features, char_ngrams=self.char_ngrams,
                                    char_max_features=self.char_max_features).fit(X)
        self.layout_ = make_pipeline(LayoutFeatures(structure=self.structure), StandardScaler()).fit(X)
        features, text, layout = self._features(X)
        self.first_ = self._logistic(self.C).fit(features, y)
        self.second_ = self.placed_ = None
        self.context_model_ = None  # what stage two became: "trees" or "logistic" (None: no stage two)
        self.temperature_ = 1.0
        groups = np.asarray([b.doc for b in X])
        self.page_kind_ = None
        if self.context and len(np.unique(groups)) >= 2:
            oof = self._out_of_fold_proba(self._logistic(self.C), features, y, groups)
            page_kind = self._fit_page_kind(X, features, oof, y)
            placed = sparse.hstack([text, sparse.csr_matrix(layout)], format="csr")
            self.placed_ = self._logistic(self.C).fit(placed, y)
            placed_oof = self._out_of_fold_proba(self._logistic(self.C), placed, y, groups)
            second_input = self._second_stage_input(X, oof, placed_oof, layout, page_kind)
            self.second_ = second.fit(second_input, y)
            self.context_model_ = "logistic" if isinstance(second, Pipeline) else "trees"
            self.context_means_ = second_input.mean(axis=0)  # a neutral value per column, for explanations
            if self.calibrate:
                self.temperature_ = fit_temperature(
                    self._out_of_fold_proba(self.second_, second_input, y, groups), y, self.classes_)
        return self

    # -- what kind of page: news or commentary ------------------------------------------------------------------
    def _content(self, first_proba: np.ndarray) -> np.ndarray:
        """Each block's chance of being content rather than furniture, by the first stage."""
        furniture = np.flatnonzero(self.classes_ == "boilerplate")
        return 1.0 - first_proba[:, furniture[0]] if len(furniture) else np.ones(len(first_proba))

    @staticmethod
    def _page_rows(X: list[Block], parts: list, content: np.ndarray):
        """One row per page: the mean of its blocks' features (given as column parts), weighted by how likely each
        block is content."""
        pages, row_page = np.unique([b.doc for b in X], return_inverse=True)
        weights = sparse.csr_matrix((content + 1e-6, (row_page, np.arange(len(X)))), shape=(len(pages), len(X)))
        weights = normalize(weights, norm="l1")
        return sparse.hstack([weights @ part for part in parts], format="csr"), row_page

    def _fit_page_kind(self, X: list[Block], features, oof: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Learn whether a page is commentary as a whole (most of its content is opinion) and return, per row,
        its page's out-of-fold chance of being one.

        A whole editorial argues from facts in the third person; paragraph by paragraph it reads like news, but
        as a page it does not. Stage two gets this page-level view beside the paragraph-level one.
        """
        pages, row_page = self._page_rows(X, [features], self._content(oof))
        content = y != "boilerplate"
        opinion = np.bincount(row_page, weights=(y == "opinion") & content, minlength=pages.shape[0])
        target = opinion / np.maximum(np.bincount(row_page, weights=content, minlength=pages.shape[0]), 1) > 0.5
        if target.all() or not target.any():
            return np.zeros(len(X))
        chance = np.zeros(pages.shape[0])
        folds = GroupKFold(n_splits=min(self.cv, pages.shape[0])).split(pages, target, np.arange(pages.shape[0]))
        for train, test in folds:
            if len(np.unique(target[train])) == 2:
                model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter)
                chance[test] = model.fit(pages[train], target[train]).predict_proba(pages[test])[:, 1]
        self.page_kind_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter)
        self.page_kind_.fit(pages, target)
        return chance[row_page]

    def _page_kind(self, X: list[Block], parts: list, first_proba: np.ndarray) -> np.ndarray:
        if self.page_kind_ is None:
            return np.zeros(len(X))
        pages, row_page = self._page_rows(X, parts, self._content(first_proba))
        return self.page_kind_.predict_proba(pages)[:, 1][row_page]

    def _second_stage_parts(self, X: list[Block], first_proba: np.ndarray, placed_proba: np.ndarray,
                            layout: np.ndarray, page_kind: np.ndarray) -> list[np.ndarray]:
        """The column blocks of stage two's input, in order."""
        content = self._content(first_proba)
        parts = [context_features(X, first_proba, content=content), layout, neighbour_features(X, layout),
                 page_kind[:, None], (page_kind * content)[:, None], placed_proba]
        return parts + [region_features(X, content)] if self.regions else parts

    def _second_stage_input(self, X: list[Block], first_proba: np.ndarray, placed_proba: np.ndarray,
                            layout: np.ndarray, page_kind: np.ndarray) -> np.ndarray:
        return np.hstack(self._second_stage_parts(X, first_proba, placed_proba, layout, page_kind))


    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "first_")
        X = as_blocks(X)
        if not X:
            return np.zeros((0, len(self.classes_)))
        text, layout = self.text_.transform(X), self.layout_.transform(X)
        alone = without_place(layout)
        proba = split_predict_proba(self.first_, [text, alone])
        if self.second_ is not None:
            page_kind = self._page_kind(X, [text, alone], proba)
            placed = split_predict_proba(self.placed_, [text, layout])
            parts = self._second_stage_parts(X, proba, placed, layout, page_kind)
            if isinstance(self.second_, Pipeline):
                proba = split_predict_proba(self.second_[-1], parts, scaler=self.second_[0])
            else:
                proba = _chunked_predict_proba(self.second_, np.hstack(parts))
        return temper(proba, self.temperature_)

    def stage_inputs(self, X):
        """What each stage reads for the rows of X: stage one's features (words, then layout) as a sparse matrix,
        and stage two's input before its scaler (None without a second stage). For explanations; the
        probabilities come from `predict_proba`."""
        check_is_fitted(self, "first_")
        X = as_blocks(X)
        features, text, layout = self._features(X)
        if self.second_ is None:
            return features, None
        first = self.first_.predict_proba(features)
        placed = split_predict_proba(self.placed_, [text, layout])
        return features, self._second_stage_input(X, first, placed, layout, self._page_kind(X, [features], first))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)] if len(proba) else np.asarray([], dtype=object)

    def predict_documents(self, documents: Sequence[Document]) -> list[np.ndarray]:
        """Probabilities per document (rows: paragraphs, columns: `classes_`)."""
        proba = self.predict_proba(to_blocks(documents))
        bounds = np.cumsum([0] + [len(d.paragraphs) for d in documents])
        return [proba[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _more_tags(self):
        return {"X_types": ["string"], "requires_y": True}

