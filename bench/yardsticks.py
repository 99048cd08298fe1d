"""Score a model on every yardstick at once and print one table beside the targets.

    python bench/yardsticks.py [--model FILE] [--shared ../shared] [--plots DIR] [--record]

Yardsticks: the corpus's held-out outlets (data/labeled/test) and, when ../shared is present, the real crawled
pages (real-dev), PolNeAR quotes, Webis editorials, CheckThat! subjectivity sentences and the seed page. They are
for measuring only: nothing here trains. `--record` stores the results in the model's card.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from segclf import api
from segclf.documents import Document, Paragraph
from segclf.evaluation import Report, plot_confusion, score
from segclf.io import atomic_output, read_documents

REPO = Path(__file__).resolve().parent.parent
LABELS5 = ["reported", "quote", "caption", "boilerplate", "opinion"]


def predicted(documents: list[Document], model) -> list[str]:
    bare = [Document(d.id, [Paragraph(p.text) for p in d.paragraphs], d.fields) for d in documents]
    return [p.label for d in api.label_documents(bare, model) for p in d.paragraphs]


def gold(documents: list[Document]) -> list[str]:
    return [p.label for d in documents for p in d.paragraphs]


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
    parser.add_argument("--plots", default=None, help="write confusion-matrix PNGs here")
    parser.add_argument("--record", action="store_true", help="store the results in the model card")
    args = parser.parse_args(argv)
    model = api.load_model(args.model)
    shared = Path(args.shared)
    table = Table()
    reports: dict[str, Report] = {}

    test = read_documents(sorted(str(p) for p in (REPO / "data/labeled/test").glob("*.jsonl")), require_labels=True)
    reports["held-out outlets"] = score(gold(test), predicted(test, model), LABELS5)
    five_label(table, "held-out outlets", reports["held-out outlets"])

    eval_dir = shared / "eval"
    if (eval_dir / "real-dev.jsonl").is_file():
        docs = read_documents([str(eval_dir / "real-dev.jsonl")], require_labels=True)
        reports["real-dev"] = score(gold(docs), predicted(docs, model), LABELS5)
        five_label(table, "real-dev (text)", reports["real-dev"], 0.85, 0.75)

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
            with atomic_output(str(Path(args.plots) / f"confusion-{name.replace(' ', '-')}.png"), "wb") as out:
                plot_confusion(report, out, title=name)
    if args.record:
        model.card.setdefault("scores", {})["yardsticks"] = table.as_card()
        api.save_model(model, model.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
