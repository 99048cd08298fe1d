"""The Python API the CLI wraps: load a model, label documents or paragraph strings, train, evaluate.

    >>> from segclf import api
    >>> model = api.load_model()                      # the shipped default
    >>> api.label_paragraphs(["Police said on Monday ...", "“We will not stop,” she said."], model)
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from segclf.documents import Document, document_from_texts, gold_labels
from segclf.evaluation import Report, score
from segclf.modelfile import SavedModel, load_model, save_model
from segclf.training import score_summary, train

__all__ = ["load_model", "save_model", "label_documents", "label_paragraphs", "evaluate", "record_scores", "train",
           "SavedModel"]


def _model(model: SavedModel | None) -> SavedModel:
    return model if model is not None else load_model()


def label_documents(documents: Sequence[Document], model: SavedModel | None = None) -> list[Document]:
    """Set every paragraph's `label` and `scores` (probability per label), in place; returns the documents."""
    model = _model(model)
    classes = np.asarray([str(c) for c in model.estimator.classes_], dtype=object)
    names = classes.tolist()
    for doc, proba in zip(documents, model.estimator.predict_documents(documents)):
        labels = classes[np.argmax(proba, axis=1)].tolist() if len(proba) else []
        for paragraph, row, label in zip(doc.paragraphs, proba.tolist(), labels):
            paragraph.scores = dict(zip(names, row))
            paragraph.label = label
    return list(documents)


def label_paragraphs(texts: Iterable[str], model: SavedModel | None = None) -> list[tuple[str, dict[str, float]]]:
    """Label the paragraphs of one document, given in page order: (label, scores) for each."""
    doc = label_documents([document_from_texts(list(texts))], model)[0]
    return [(p.label, p.scores) for p in doc.paragraphs]


def evaluate(documents: Sequence[Document], model: SavedModel | None = None) -> Report:
    """Score a model on labeled documents (their labels are kept aside, then compared)."""
    gold = gold_labels(documents)
    copies = [Document(d.id, [type(p)(p.text, None, p.structure) for p in d.paragraphs], d.fields) for d in documents]
    predicted = [p.label for d in label_documents(copies, model) for p in d.paragraphs]
    return score(gold, predicted)


def record_scores(model: SavedModel, name: str, report: Report, data: Sequence[str] = ()) -> None:
    """Store an evaluation in the model's card under `name` and save the model again (atomically)."""
    if model.path is None:
        raise ValueError("the model has no file to record scores in")
    model.card.setdefault("scores", {})[name] = {"data": list(data), **score_summary(report)}
    save_model(model, model.path)
