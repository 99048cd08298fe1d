"""Why a paragraph got its label: the features that pushed it there, and the strongest features of each label.

Stage one reads the paragraph's own words and layout, stage two its neighbours and page. Stage one is a logistic
regression, so a feature's push on a label is its weight times its value (so is stage two's when it is one); for a
stage two of trees, a feature's push is how much the label's log-probability falls when that feature alone is set to
its mean over the training rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

from segclf.documents import Document, to_blocks
from segclf.features import LAYOUT_FEATURE_NAMES, context_feature_names, neighbour_feature_names, region_feature_names
from segclf.model import SegmentClassifier, temper


@dataclass
class Push:
    feature: str
    weight: float  # how much it moved the label's score (log-odds scale, before the softmax)


def first_stage_names(model: SegmentClassifier) -> list[str]:
    return [*model.text_.get_feature_names_out(), *(f"layout:{n}" for n in LAYOUT_FEATURE_NAMES)]


def second_stage_names(model: SegmentClassifier) -> list[str]:
    classes = [str(c) for c in model.classes_]
    return [*(f"context:{n}" for n in context_feature_names(classes)),
            *(f"layout:{n}" for n in LAYOUT_FEATURE_NAMES), *(f"neighbour:{n}" for n in neighbour_feature_names()),
            "page:commentary", "page:commentary_x_content", *(f"placed:{c}" for c in classes),
            *(f"region:{n}" for n in (region_feature_names() if model.regions else []))]


def top_features(model: SegmentClassifier, n: int = 15) -> dict[str, list[Push]]:
    """The stage-one features with the largest weights for each label."""
    names = first_stage_names(model)
    out = {}
    for row, label in zip(model.first_.coef_, model.classes_):
        best = np.argsort(row)[::-1][:n]
        out[str(label)] = [Push(names[i], float(row[i])) for i in best]
    return out


def explain_paragraph(model: SegmentClassifier, document: Document, index: int, n: int = 10) -> dict:
    """The label and probabilities of one paragraph, with the strongest pushes toward that label in each stage."""
    if not 0 <= index < len(document.paragraphs):
        raise IndexError(f"document {document.id!r} has no paragraph {index} (it has {len(document.paragraphs)})")
    X = to_blocks([document])
    proba = model.predict_proba(X)
    features, second_input = model.stage_inputs(X)
    label_at = int(np.argmax(proba[index]))
    row = features[index].toarray().ravel()
    stages = {"words and layout (stage one)": _pushes(model.first_.coef_[label_at] * row, first_stage_names(model), n)}
    if second_input is not None:
        if isinstance(model.second_, Pipeline):
            scaler, logistic = model.second_.steps[0][1], model.second_.steps[-1][1]
            pushes = logistic.coef_[label_at] * scaler.transform(second_input[index:index + 1]).ravel()
        else:
            pushes = _mean_out_pushes(model, second_input[index], label_at)
        stages["neighbours and page (stage two)"] = _pushes(pushes, second_stage_names(model), n)
    return {
        "document": document.id, "paragraph": index, "text": document.paragraphs[index].text,
        "label": str(model.classes_[label_at]),
        "scores": {str(c): float(p) for c, p in zip(model.classes_, proba[index])},
        "pushes": stages,
    }


def _mean_out_pushes(model: SegmentClassifier, row: np.ndarray, label_at: int) -> np.ndarray:
    """Per column of stage two's input: the label's log-probability minus what it is with that column at its mean."""
    variants = np.tile(row, (len(row) + 1, 1))
    columns = np.arange(len(row))
    variants[columns + 1, columns] = model.context_means_
    proba = temper(model.second_.predict_proba(variants), model.temperature_)[:, label_at]
    log_proba = np.log(np.clip(proba, 1e-300, 1.0))
    return log_proba[0] - log_proba[1:]


def _pushes(contributions: np.ndarray, names: list[str], n: int) -> list[Push]:
    order = np.argsort(contributions)[::-1]
    toward = [Push(names[i], float(contributions[i])) for i in order[:n] if contributions[i] > 0]
    against = [Push(names[i], float(contributions[i])) for i in order[::-1][:n // 2] if contributions[i] < 0]
    return toward + against
