"""Probabilities that mean what they say: the reliability measure, and the temperature the model learns."""

import numpy as np
import pytest

from segclf.documents import gold_labels, to_blocks
from segclf.evaluation import calibration
from segclf.model import SegmentClassifier, fit_temperature, temper

CLASSES = np.asarray(["a", "b"])


def test_calibration_of_a_small_hand_worked_case():
    proba = np.asarray([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    gold = ["a", "b", "a", "b"]
    c = calibration(gold, proba, CLASSES, bins=10)
    # bins: 0.9 (two rows, one right), 0.6 (one row, right), 0.7 (one row, right)
    assert c.count == [1, 1, 2] and c.accuracy == [1.0, 1.0, 0.5]
    assert c.ece == pytest.approx((0.4 + 0.3 + 2 * 0.4) / 4)
    assert c.brier == pytest.approx(np.mean([0.02, 1.62, 0.32, 0.18]))
    assert c.log_loss == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.6, 0.7])))


def overconfident(rng, n=4000, right=0.7):
    """Always 95% sure, right 70% of the time."""
    truth = rng.integers(0, 2, n)
    top = np.where(rng.random(n) < right, truth, 1 - truth)
    proba = np.where(top[:, None] == np.arange(2), 0.95, 0.05)
    return proba, CLASSES[truth]


def test_a_fitted_temperature_softens_overconfidence_and_keeps_the_labels():
    proba, y = overconfident(np.random.default_rng(0))
    t = fit_temperature(proba, y, CLASSES)
    assert t > 1
    tempered = temper(proba, t)
    assert np.array_equal(tempered.argmax(axis=1), proba.argmax(axis=1))
    assert np.allclose(tempered.sum(axis=1), 1.0)
    assert tempered.max(axis=1).mean() == pytest.approx(0.7, abs=0.02)  # as sure as it is right
    assert calibration(y, tempered, CLASSES).ece < calibration(y, proba, CLASSES).ece / 5


def test_a_fitted_temperature_sharpens_underconfidence():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 2000)
    proba = np.where(truth[:, None] == np.arange(2), 0.6, 0.4)  # always right, only 60% sure
    assert fit_temperature(proba, CLASSES[truth], CLASSES) < 1


def test_the_model_calibrates_without_changing_its_labels(corpus_sample):
    docs = corpus_sample[:16]
    X, y = to_blocks(docs), np.asarray(gold_labels(docs))
    plain = SegmentClassifier(cv=3, calibrate=False).fit(X, y)
    calibrated = SegmentClassifier(cv=3).fit(X, y)
    assert plain.temperature_ == 1.0 and calibrated.temperature_ != 1.0
    assert np.array_equal(plain.predict(X), calibrated.predict(X))
    assert not np.allclose(plain.predict_proba(X), calibrated.predict_proba(X))
