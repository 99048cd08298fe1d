"""Why a paragraph got its label: the features that pushed it there, and the strongest features of each label.

Both stages are logistic regressions, so a feature's push on a label is its weight times its value; stage one
reads the paragraph's own words and layout, stage two its neighbours and page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segclf.documents import Document, to_blocks
from segclf.features import LAYOUT_FEATURE_NAMES, context_feature_names, neighbour_feature_names
from segclf.model import SegmentClassifier


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
            "page:commentary", "page:commentary_x_content"]


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
        scaler, logistic = model.second_.steps[0][1], model.second_.steps[-1][1]
        scaled = scaler.transform(second_input[index:index + 1]).ravel()
        stages["neighbours and page (stage two)"] = _pushes(logistic.coef_[label_at] * scaled,
                                                            second_stage_names(model), n)
    return {
        "document": document.id, "paragraph": index, "text": document.paragraphs[index].text,
        "label": str(model.classes_[label_at]),
        "scores": {str(c): float(p) for c, p in zip(model.classes_, proba[index])},
        "pushes": stages,
    }


def _pushes(contributions: np.ndarray, names: list[str], n: int) -> list[Push]:
    order = np.argsort(contributions)[::-1]
    toward = [Push(names[i], float(contributions[i])) for i in order[:n] if contributions[i] > 0]
    against = [Push(names[i], float(contributions[i])) for i in order[::-1][:n // 2] if contributions[i] < 0]
    return toward + against
