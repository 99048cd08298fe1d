"""Score a model on every yardstick at once and print one table beside the targets.

    python bench/yardsticks.py [--model FILE] [--shared ../shared] [--plots DIR] [--record]

Yardsticks: the corpus's held-out outlets (data/labeled/test) and, when ../shared is present, the real crawled
pages (real-dev, from their text and through `segclf score` on their HTML), PolNeAR quotes, Webis editorials,
CheckThat! subjectivity sentences and the seed page; with the calibration error (ECE) where all five labels are
scored. They are for measuring only: nothing here trains. `--record` stores the results in the model's card,
`--plots` draws the confusion matrices and the reliability curves.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from segclf import api
from segclf.documents import Document, Paragraph
from segclf.evaluation import (Calibration, Report, calibration, plot_confusion, plot_reliability, score,
                               transfer_labels)
from segclf.io import atomic_output, read_documents
from segclf.scoring import read_table
from segclf.scoring import score as run_score

REPO = Path(__file__).resolve().parent.parent
LABELS5 = ["reported", "quote", "caption", "boilerplate", "opinion"]


def predicted(documents: list[Document], model) -> list[str]:
    return [model.estimator.classes_[i] for i in probabilities(documents, model).argmax(axis=1)]


def probabilities(documents: list[Document], model) -> np.ndarray:
    """The model's probabilities for every paragraph (columns: its classes), from the text alone."""
    bare = [Document(d.id, [Paragraph(p.text) for p in d.paragraphs], d.fields) for d in documents]
    return np.vstack(model.estimator.predict_documents(bare))


def gold(documents: list[Document]) -> list[str]:
    return [p.label for d in documents for p in d.paragraphs]


def labels_through_score(docs: list[Document], pages: Path, model) -> tuple[list[str], int]:
    """real-dev's pages run through `segclf score` on their HTML, as a user would, and its blocks' labels carried
    over to the labeled blocks by their words (segclf's splitter and html_text cut pages differently). A labeled
    block whose words segclf's splitter dropped (hidden or script text) counts as `boilerplate`, i.e. removed.
    Returns the labels and how many blocks were dropped."""
    files = {path.name[:8]: path for path in pages.glob("*.html.gz")}
    inputs = [str(files[d.id.split("-")[-1]]) for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        run_score(inputs, Path(tmp) / "out", model, workers=1)
        pages_table = read_table(Path(tmp) / "out", "pages").to_pylist()
        blocks_table = read_table(Path(tmp) / "out", "blocks").to_pylist()
    page_of_source = {row["source"]: row["page_id"] for row in pages_table}
    blocks_of_page: dict[str, list[tuple[int, str, str]]] = {}
    for row in blocks_table:
        blocks_of_page.setdefault(row["page_id"], []).append((row["block_index"], row["text"], row["label"]))
    out, dropped = [], 0
    for doc, source in zip(docs, inputs):
        blocks = [(text, label) for _, text, label in sorted(blocks_of_page.get(page_of_source[source], []))]
        for label in transfer_labels([p.text for p in doc.paragraphs], blocks):
            dropped += label is None
            out.append(label or "boilerplate")
    return out, dropped


def binary_f1(gold_labels, predicted_labels, positive) -> tuple[float, float, float]:
    g = np.asarray(gold_labels) == positive
    p = np.asarray(predicted_labels) == positive
    tp = float(np.sum(g & p))
    precision = tp / max(p.sum(), 1)
    recall = tp / max(g.sum(), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, float, str, bool | None]] = []

    def add(self, yardstick: str, metric: str, value: float, target: float | None = None):
        met = None if target is None else value >= target
        self.rows.append((yardstick, metric, value, "" if target is None else f">= {target:.2f}", met))

    def format(self) -> str:
        lines = [f"{'yardstick':<22} {'metric':<28} {'value':>6}  {'target':<8} met"]
        for y, m, v, t, met in self.rows:
            mark = "" if met is None else ("yes" if met else "NO")
            lines.append(f"{y:<22} {m:<28} {v:>6.3f}  {t:<8} {mark}")
        return "\n".join(lines)

    def as_card(self) -> dict:
        card: dict = {}
        for y, m, v, t, met in self.rows:
            card.setdefault(y, {})[m] = round(v, 4)
        return card


def five_label(table: Table, name: str, report: Report, macro_target=None, label_target=None):
    table.add(name, "macro-F1", report.macro_f1, macro_target)
    for label in LABELS5:
        if label in report.per_label and report.per_label[label].support:
            table.add(name, f"F1 {label}", report.per_label[label].f1, label_target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--shared", default=str(REPO.parent / "shared"))
    parser.add_argument("--plots", default=None, help="draw the confusion matrices and reliability curves (PNG) here")
    parser.add_argument("--record", action="store_true", help="store the results in the model card")
    args = parser.parse_args(argv)
    model = api.load_model(args.model)
    shared = Path(args.shared)
    table = Table()
    reports: dict[str, Report] = {}

    classes = [str(c) for c in model.estimator.classes_]
    reliability: dict[str, Calibration] = {}

    def five_label_with_calibration(name: str, row: str, docs: list[Document], **targets) -> None:
        proba = probabilities(docs, model)
        reports[name] = score(gold(docs), [classes[i] for i in proba.argmax(axis=1)], LABELS5)
        five_label(table, row, reports[name], **targets)
        reliability[name] = calibration(gold(docs), proba, classes)
        table.add(row, "calibration error (ECE)", reliability[name].ece)

    test = read_documents(sorted(str(p) for p in (REPO / "data/labeled/test").glob("*.jsonl")), require_labels=True)
    five_label_with_calibration("held-out outlets", "held-out outlets", test)
    test_pages = sorted(str(p) for p in (REPO / "data/labeled/test").glob("*/*.html"))
    if test_pages:  # labeled HTML pages of held-out outlets, in the blocks segclf's splitter cuts
        pages = read_documents(test_pages, require_labels=True)
        in_english = [d.fields.get("lang", "en").lower().startswith("en") for d in pages]
        english = [d for d, yes in zip(pages, in_english) if yes]
        others = [d for d, yes in zip(pages, in_english) if not yes]
        if english:
            five_label_with_calibration("held-out outlets (HTML)", "held-out outlets (HTML)", english)
        if others:  # kept apart, so the English row stays comparable with models from before round 8
            five_label_with_calibration("held-out outlets (HTML, not English)", "held-out outlets (HTML, not English)",
                                        others)

    eval_dir = shared / "eval"
    if (eval_dir / "real-dev.jsonl").is_file():
        docs = read_documents([str(eval_dir / "real-dev.jsonl")], require_labels=True)
        five_label_with_calibration("real-dev", "real-dev (text)", docs, macro_target=0.85, label_target=0.75)
        if (shared / "pages" / "aeb" / "html").is_dir():
            through_score, dropped = labels_through_score(docs, shared / "pages" / "aeb" / "html", model)
            reports["real-dev-html"] = score(gold(docs), through_score, LABELS5)
            five_label(table, "real-dev (HTML, score)", reports["real-dev-html"])
            table.add("real-dev (HTML, score)", "blocks dropped by splitter", dropped / len(through_score))

        docs = read_documents([str(eval_dir / "polnear-quote-test.jsonl")], require_labels=True)
        g, p = gold(docs), predicted(docs, model)
        reports["polnear"] = score(["quote" if x == "quote" else "other" for x in g],
                                   ["quote" if x == "quote" else "other" for x in p], ["quote", "other"])
        table.add("PolNeAR", "quote F1", binary_f1(g, p, "quote")[2], 0.88)

        docs = read_documents([str(eval_dir / "webis-editorials.jsonl")], require_labels=True)
        g, p = gold(docs), predicted(docs, model)
        reports["webis"] = score(g, p, LABELS5)
        table.add("Webis editorials", "opinion recall (op+quote)",
                  float(np.mean([x in ("opinion", "quote") for x in p])), 0.90)
        table.add("Webis editorials", "quote precision", binary_f1(g, p, "quote")[0], 0.85)

        with open(eval_dir / "checkthat-subjectivity-en.tsv", encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream, delimiter="\t"))
        docs = [Document(f"checkthat-{i}", [Paragraph(r["sentence"])]) for i, r in enumerate(rows)]
        g = ["SUBJ" if r["label"] == "SUBJ" else "OBJ" for r in rows]
        p = ["SUBJ" if x == "opinion" else "OBJ" for x in predicted(docs, model)]
        reports["checkthat"] = score(g, p, ["SUBJ", "OBJ"])
        table.add("CheckThat! (SUBJ=op)", "macro-F1", reports["checkthat"].macro_f1, 0.70)

    seed_path = shared / "examples" / "seed.jsonl"
    if seed_path.is_file():
        docs = read_documents([str(seed_path)], require_labels=True)
        g, p = gold(docs), predicted(docs, model)
        table.add("seed page", "accuracy", float(np.mean(np.asarray(g) == np.asarray(p))), 0.90)
        table.add("seed page", "comment 25-30 opinion", float(np.mean([x == "opinion" for x in p[25:31]])), 1.0)

    print(table.format())
    if args.plots:
        Path(args.plots).mkdir(parents=True, exist_ok=True)
        for name, report in reports.items():
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            with atomic_output(str(Path(args.plots) / f"confusion-{slug}.png"), "wb") as out:
                plot_confusion(report, out, title=name)
        with atomic_output(str(Path(args.plots) / "reliability.png"), "wb") as out:
            plot_reliability(reliability, out, title="segclf reliability: the top label's probability")
    if args.record:
        model.card.setdefault("scores", {})["yardsticks"] = table.as_card()
        api.save_model(model, model.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
