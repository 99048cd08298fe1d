"""Training a model on labeled documents and writing down what it is (the model card)."""

from __future__ import annotations

import hashlib
import json
import platform
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Sequence

import joblib
import numpy as np
import scipy
import sklearn

from segclf import __version__
from segclf.documents import LABELS, Document, gold_labels, to_blocks
from segclf.errors import SegclfError
from segclf.evaluation import Report, cross_validate
from segclf.model import SegmentClassifier
from segclf.modelfile import SavedModel


def corpus_summary(documents: Sequence[Document], sources: Sequence[str] = ()) -> dict[str, Any]:
    """Size, label counts and a content hash of a labeled corpus (the hash ignores file names and order)."""
    counts = Counter(gold_labels(documents))
    digest = hashlib.sha256()
    for line in sorted(json.dumps([d.id, d.texts, d.labels], ensure_ascii=False) for d in documents):
        digest.update(line.encode("utf-8"))
    return {
        "files": list(sources),
        "documents": len(documents),
        "paragraphs": sum(counts.values()),
        "label_counts": {label: counts.get(label, 0) for label in LABELS},
        "sha256": digest.hexdigest(),
    }


def train(documents: Sequence[Document], seed: int = 0, cv: int = 0, sources: Sequence[str] = (),
          **params: Any) -> tuple[SavedModel, Report | None]:
    """Fit a SegmentClassifier on all documents; with cv >= 2, first report grouped cross-validated scores."""
    if not documents:
        raise SegclfError("no documents to train on")
    labels = gold_labels(documents)
    if len(set(labels)) < 2:
        raise SegclfError(f"training needs at least two different labels, found only {set(labels)}")
    cv_report = None
    if cv >= 2:
        cv_report = cross_validate(lambda: SegmentClassifier(random_state=seed, **params), documents, folds=cv)
    estimator = SegmentClassifier(random_state=seed, **params).fit(to_blocks(documents), np.asarray(labels))
    created = datetime.now(timezone.utc)
    card = {
        "name": "segclf",
        "version": f"{__version__}+{created:%Y%m%d}",
        "created": created.isoformat(timespec="seconds"),
        "labels": [str(c) for c in estimator.classes_],
        "seed": seed,
        "params": estimator.get_params(),
        "context_model": estimator.context_model_,  # what "auto" chose (None: no stage two)
        "corpus": corpus_summary(documents, sources),
        "scores": {},
        "libraries": {
            "segclf": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__, "python": platform.python_version(),
        },
    }
    if cv_report is not None:
        card["scores"]["cross_validation"] = {"folds": cv, "grouped_by": "outlet (document when fewer outlets than folds)",
                                              **score_summary(cv_report)}
    return SavedModel(estimator, card), cv_report


def score_summary(report: Report) -> dict[str, Any]:
    return {"macro_f1": round(report.macro_f1, 4), "accuracy": round(report.accuracy, 4),
            "f1": {label: round(s.f1, 4) for label, s in report.per_label.items()}, "paragraphs": report.n}
