"""Scores of predicted against gold labels, and document-grouped cross-validation. No I/O but the optional plot."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from segclf.documents import LABELS, Document, gold_labels, to_blocks
from segclf.errors import SegclfError


@dataclass
class LabelScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    labels: list[str]
    per_label: dict[str, LabelScore]
    macro_f1: float
    accuracy: float
    confusion: list[list[int]]  # rows: gold label, columns: predicted label, in `labels` order
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        lines = [f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
        for label, s in self.per_label.items():
            lines.append(f"{label:<12} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>7.3f} {s.support:>8}")
        lines.append(f"{'macro-F1':<12} {'':>9} {'':>7} {self.macro_f1:>7.3f} {self.n:>8}")
        lines.append(f"{'accuracy':<12} {'':>9} {'':>7} {self.accuracy:>7.3f} {self.n:>8}")
        lines.append("")
        lines.append("confusion (rows gold, columns predicted)")
        lines.append(" " * 12 + "".join(f"{l[:10]:>11}" for l in self.labels))
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<12}" + "".join(f"{v:>11}" for v in row))
        return "\n".join(lines)


def score(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> Report:
    """Per-label precision/recall/F1, macro-F1 over the labels present in gold, accuracy and the confusion."""
    if labels is None:
        present = set(gold) | set(predicted)
        labels = [l for l in LABELS if l in present] + sorted(present - set(LABELS))
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_label = {l: LabelScore(float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, l in enumerate(labels)}
    in_gold = [i for i, l in enumerate(labels) if s[i] > 0]
    gold_arr, pred_arr = np.asarray(gold), np.asarray(predicted)
    return Report(
        labels=labels,
        per_label=per_label,
        macro_f1=float(np.mean(f[in_gold])) if in_gold else 0.0,
        accuracy=float(np.mean(gold_arr == pred_arr)) if len(gold_arr) else 0.0,
        confusion=confusion_matrix(gold, predicted, labels=labels).tolist(),
        n=len(gold_arr),
    )


@dataclass
class Calibration:
    """How far the probabilities can be taken at their word: the top label's probability against how often the top
    label is right, in equal-width bins of that probability (a reliability curve)."""

    ece: float  # expected calibration error: the bins' |accuracy - confidence|, weighted by their share of rows
    brier: float  # multi-class Brier score: mean squared distance between the probabilities and the one-hot truth
    log_loss: float
    confidence: list[float]  # per non-empty bin: mean top probability,
    accuracy: list[float]  # how often the top label was right,
    count: list[int]  # and how many rows fell in it
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration(gold: Sequence[str], proba: np.ndarray, classes: Sequence[str], bins: int = 10) -> Calibration:
    """The reliability of `proba` (rows: paragraphs, columns: `classes`) against the gold labels."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = list(classes)
    truth = np.asarray([classes.index(g) if g in classes else -1 for g in gold])
    onehot = np.zeros_like(proba)
    onehot[np.flatnonzero(truth >= 0), truth[truth >= 0]] = 1.0
    top = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    right = (top == truth).astype(np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    filled = np.flatnonzero(count)
    mean_confidence = np.bincount(which, weights=confidence, minlength=bins)[filled] / count[filled]
    mean_right = np.bincount(which, weights=right, minlength=bins)[filled] / count[filled]
    n = len(proba)
    truth_proba = np.where(truth >= 0, proba[np.arange(n), np.maximum(truth, 0)], 0.0)
    return Calibration(
        ece=float(np.sum(count[filled] / n * np.abs(mean_right - mean_confidence))) if n else 0.0,
        brier=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))) if n else 0.0,
        log_loss=float(-np.mean(np.log(np.clip(truth_proba, 1e-15, 1.0)))) if n else 0.0,
        confidence=mean_confidence.tolist(), accuracy=mean_right.tolist(), count=count[filled].tolist(), n=n,
    )


_WORD = re.compile(r"\w+")


def word_bag_scores(predicted: str, gold: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of the words (lower-cased, with repeats) of an extracted text against the gold text:
    the usual yardstick of article extraction, blind to how either text is cut into blocks."""
    bag, gold_bag = (Counter(_WORD.findall(text.lower())) for text in (predicted, gold))
    common = sum((bag & gold_bag).values())
    precision, recall = common / max(sum(bag.values()), 1), common / max(sum(gold_bag.values()), 1)
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def transfer_labels(texts: Sequence[str], blocks: Sequence[tuple[str, str]]) -> list[str | None]:
    """Labels of one segmentation of a page carried over to another segmentation of the same page.

    The words of `texts` and of the labeled `blocks` (text, label) are aligned in order; each text takes the label
    that most of its matched words carry, or None when fewer than half of its words are found (the other
    segmentation dropped it). A text without words takes the label of the first block that contains it.
    Used to score `segclf score`'s own blocks of an HTML page against blocks labeled by another HTML-to-text tool.
    """
    owner: list[int] = []
    words: list[str] = []
    counts: list[int] = []
    for i, text in enumerate(texts):
        found = _WORD.findall(text.lower())
        words += found
        owner += [i] * len(found)
        counts.append(len(found))
    other: list[str] = []
    other_label: list[str] = []
    for text, label in blocks:
        found = _WORD.findall(text.lower())
        other += found
        other_label += [label] * len(found)
    votes: list[Counter] = [Counter() for _ in texts]
    matcher = difflib.SequenceMatcher(None, words, other, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            votes[owner[a + k]][other_label[b + k]] += 1
    out: list[str | None] = []
    for text, vote, n in zip(texts, votes, counts):
        if n:
            out.append(vote.most_common(1)[0][0] if sum(vote.values()) * 2 > n else None)
        else:
            out.append(next((label for block, label in blocks if text.strip() in block), None))
    return out


def cross_validate(make_estimator: Callable[[], Any], documents: Sequence[Document], folds: int = 5,
                   group_key: str = "outlet") -> Report:
    """Out-of-fold predictions for every paragraph, folds grouped by outlet (by document when too few outlets).

    Grouping keeps all pages of an outlet (or a document) on one side, so furniture repeated within a site
    cannot leak from training into the fold it is tested on.
    """
    blocks = to_blocks(documents)
    gold = np.asarray(gold_labels(documents))
    doc_groups = [str(d.fields.get(group_key, d.id)) for d in documents]
    if len(set(doc_groups)) < folds:
        doc_groups = [d.id for d in documents]
    n_splits = min(folds, len(set(doc_groups)))
    if n_splits < 2:
        raise SegclfError("cross-validation needs at least two documents")
    groups = np.asarray([doc_groups[b.doc] for b in blocks])
    predicted = np.empty(len(blocks), dtype=object)
    for train, test in GroupKFold(n_splits=n_splits).split(blocks, gold, groups):
        estimator = make_estimator().fit([blocks[i] for i in train], gold[train])
        predicted[test] = estimator.predict([blocks[i] for i in test])
    return score(gold.tolist(), predicted.tolist())


def plot_confusion(report: Report, stream: BinaryIO, title: str = "segclf confusion matrix") -> None:
    """Write the confusion matrix as PNG to a binary stream (row-normalised colours, counts in the cells)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(report.confusion, dtype=float)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=30, ha="right")
    ax.set_yticks(range(len(report.labels)), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title}\nmacro-F1 {report.macro_f1:.3f}, n={report.n}")
    for i in range(len(report.labels)):
        for j in range(len(report.labels)):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=8)
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=120)
    plt.close(fig)


def plot_reliability(curves: dict[str, Calibration], stream: BinaryIO, title: str = "segclf reliability") -> None:
    """Write reliability curves (accuracy against confidence of the top label, one line per data set) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, c in curves.items():
        ax.plot(c.confidence, c.accuracy, marker="o", label=f"{name} (ECE {c.ece:.3f}, n={c.n})")
    ax.set_xlabel("probability of the predicted label")
    ax.set_ylabel("share of paragraphs where it is right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=120)
    plt.close(fig)
