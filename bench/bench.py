"""Speed and boilerplate quality of `segclf score` next to what users would pick instead: trafilatura and jusText.

    python bench/bench.py [--model models/default.joblib] [--shared ../shared] [--repeat 10] [--json OUT.json]
                          [--speed-only]

Everything runs pinned to one core, on the 157 crawled pages of ../shared/pages (the HTML files for the peers, the
WARC file for segclf, the same bytes). Each measurement runs in a fresh child process, so its peak memory (resident
set of the whole process tree, sampled) is its own. Prints a table; --json also writes the figures.

Speed:  segclf score (WARC in, Parquet out, --workers 1, model loading and worker start included) pages/s and
        blocks/s, on the WARC once and on the WARC repeated --repeat times (the streaming case, start-up amortised);
        segclf's block splitter alone (what `segclf blocks` does); trafilatura.extract and justext.justext on the
        same pages (extraction only); segclf predict paragraphs/s on a JSONL file of the same pages' blocks.
Quality: on ../shared/eval/real-dev.jsonl, boilerplate vs everything else as a binary task. Each system's content
        text (segclf: its non-boilerplate blocks; trafilatura: its output; jusText: its good paragraphs) is aligned
        word by word to the labeled blocks (difflib); a labeled block counts as kept when most of its words are
        matched. F1 of the content class and of the boilerplate class, on the same blocks for every system; then
        the trade-offs users can choose: segclf with --min-probability 0.3, 0.7 and 0.9 (content kept when its
        chance of not being boilerplate reaches that), trafilatura with favor_precision and favor_recall.
        Then the article text of every system on all 157 pages against the pages' ground truth (their article
        body): word-bag precision, recall and F1 per page, averaged.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


# -- measuring -------------------------------------------------------------------------------------------------

class PeakMemory:
    """Peak resident memory: this process's high-water mark plus its largest child's, read once the run is over.
    Nothing samples during the run, so the measurement takes no time from the one core it measures."""

    def __init__(self):
        self.peak = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # VmHWM starts afresh at exec, unlike RUSAGE_SELF's ru_maxrss, which a child inherits from the bench.
        status = Path("/proc/self/status").read_text()
        own = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        self.peak = (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024


def html_pages(shared: Path) -> list[bytes]:
    return [gzip.decompress(path.read_bytes()) for path in sorted((shared / "pages" / "aeb" / "html").glob("*.gz"))]


def measure(name: str, args) -> dict:
    """Run one measurement (in this process, a fresh child of the bench)."""
    shared = Path(args.shared)
    if name == "segclf-score":
        from segclf.modelfile import load_model
        from segclf.scoring import score
        warc = shared / "pages" / "aeb.warc.gz"
        inputs = [str(warc)]
        if args.repeat > 1:
            tmp = Path(tempfile.mkdtemp(prefix="segclf-bench-"))
            repeated = tmp / "repeated.warc.gz"
            repeated.write_bytes(warc.read_bytes() * args.repeat)  # gzip members concatenate into one WARC
            inputs = [str(repeated)]
        out = Path(tempfile.mkdtemp(prefix="segclf-bench-out-")) / "out"
        with PeakMemory() as memory:
            started = time.perf_counter()
            summary = score(inputs, out, load_model(args.model), workers=1)
            seconds = time.perf_counter() - started
        return {"pages": summary.pages, "blocks": summary.blocks, "errors": summary.errors, "seconds": seconds,
                "peak_mb": memory.peak / 2**20}
    if name == "segclf-predict":
        from segclf import api
        from segclf.cli.predict import BATCH
        from segclf.documents import Document
        from segclf.html import parse_page
        from segclf.io import document_record, iter_documents, write_jsonl
        from segclf.runtime import settle_for_bulk_labeling
        from itertools import islice
        path = Path(tempfile.mkdtemp(prefix="segclf-bench-")) / "blocks.jsonl"
        with open(path, "w", encoding="utf-8") as stream:  # the same pages' blocks, as plain paragraphs
            pages = [[type(p)(p.text) for p in parse_page(data).paragraphs] for data in html_pages(shared)]
            for copy in range(args.repeat):  # as many copies as the streaming run reads
                for i, paragraphs in enumerate(pages):
                    doc = Document(f"page-{i}-{copy}", paragraphs)
                    stream.write(json.dumps(document_record(doc), ensure_ascii=False) + "\n")
        model = api.load_model(args.model)
        settle_for_bulk_labeling()  # as `segclf predict` does once its model is loaded
        with PeakMemory() as memory, open(os.devnull, "w", encoding="utf-8") as sink:
            started = time.perf_counter()
            paragraphs = 0
            documents = iter_documents(str(path))  # what `segclf predict FILE.jsonl` runs, model loaded
            while batch := list(islice(documents, BATCH)):
                write_jsonl(api.label_documents(batch, model), sink)
                paragraphs += sum(len(d.paragraphs) for d in batch)
            seconds = time.perf_counter() - started
        return {"pages": 157 * args.repeat, "blocks": paragraphs, "seconds": seconds, "peak_mb": memory.peak / 2**20}
    pages = html_pages(shared)
    if name == "segclf-blocks":
        from segclf.html import parse_page
        with PeakMemory() as memory:
            started = time.perf_counter()
            blocks = sum(len(parse_page(data).paragraphs) for data in pages)
            seconds = time.perf_counter() - started
        return {"pages": len(pages), "blocks": blocks, "seconds": seconds, "peak_mb": memory.peak / 2**20}
    if name == "trafilatura":
        import trafilatura
        with PeakMemory() as memory:
            started = time.perf_counter()
            outputs = [trafilatura.extract(data) or "" for data in pages]
            seconds = time.perf_counter() - started
        blocks = sum(1 for text in outputs for line in text.splitlines() if line.strip())
        return {"pages": len(pages), "blocks": blocks, "seconds": seconds, "peak_mb": memory.peak / 2**20}
    if name == "justext":
        import justext
        stoplist = justext.get_stoplist("English")
        with PeakMemory() as memory:
            started = time.perf_counter()
            outputs = [justext.justext(data, stoplist) for data in pages]
            seconds = time.perf_counter() - started
        return {"pages": len(pages), "blocks": sum(map(len, outputs)), "seconds": seconds,
                "peak_mb": memory.peak / 2**20}
    if name == "quality":
        return quality(shared, args.model)
    raise SystemExit(f"unknown measurement {name}")


# -- quality on real-dev ---------------------------------------------------------------------------------------

def kept_blocks(gold_texts: list[str], content: str) -> list[bool]:
    """Which labeled blocks a system kept: most of each block's words matched in its content text, in order."""
    from segclf.evaluation import transfer_labels  # here, not at the top: the speed runs' memory leaves it out

    return [label is not None for label in transfer_labels(gold_texts, [(content, "content")])]


def f1(gold: list[bool], predicted: list[bool], positive: bool) -> dict:
    tp = sum(g == positive and p == positive for g, p in zip(gold, predicted))
    fp = sum(g != positive and p == positive for g, p in zip(gold, predicted))
    fn = sum(g == positive and p != positive for g, p in zip(gold, predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}


def quality(shared: Path, model_path: str | None) -> dict:
    import justext
    import trafilatura
    from segclf import api
    from segclf.documents import LABELS, Document, Paragraph
    from segclf.html import parse_page
    from segclf.scoring import ScoreSettings, block_keeper

    model = api.load_model(model_path)
    files = {path.name[:8]: path for path in (shared / "pages" / "aeb" / "html").glob("*.html.gz")}
    stoplist = justext.get_stoplist("English")
    thresholds = (0.3, 0.7, 0.9)  # --min-probability with --only all labels but boilerplate, as segclf score keeps
    content = tuple(label for label in LABELS if label != "boilerplate")
    keepers = [block_keeper(ScoreSettings(only=content, min_probability=t)) for t in thresholds]
    systems = ("segclf (its own blocks from the HTML)", "segclf (the labeled blocks as given)", "trafilatura",
               "jusText", *(f"segclf --min-probability {t} (own blocks)" for t in thresholds),
               "trafilatura favor_precision", "trafilatura favor_recall")
    gold_all: list[bool] = []
    kept_all: dict[str, list[bool]] = {name: [] for name in systems}
    with open(shared / "eval" / "real-dev.jsonl", encoding="utf-8") as stream:
        for line in stream:
            doc = json.loads(line)
            texts = [p["text"] for p in doc["paragraphs"]]
            gold_all += [p["label"] != "boilerplate" for p in doc["paragraphs"]]
            data = gzip.decompress(files[doc["id"][4:]].read_bytes())
            own = api.label_documents([Document("own", parse_page(data).paragraphs)], model)[0]
            own_content = "\n".join(p.text for p in own.paragraphs if p.label != "boilerplate")
            kept_all[systems[0]] += kept_blocks(texts, own_content)
            for name, keep in zip(systems[4:], keepers):
                kept_all[name] += kept_blocks(texts, "\n".join(p.text for p in own.paragraphs if keep(p)))
            given = api.label_documents([Document("given", [Paragraph(t) for t in texts])], model)[0]
            kept_all[systems[1]] += [p.label != "boilerplate" for p in given.paragraphs]
            kept_all[systems[2]] += kept_blocks(texts, trafilatura.extract(data) or "")
            good = [p.text for p in justext.justext(data, stoplist) if not p.is_boilerplate]
            kept_all[systems[3]] += kept_blocks(texts, "\n".join(good))
            for name, option in zip(systems[-2:], ("favor_precision", "favor_recall")):
                kept_all[name] += kept_blocks(texts, trafilatura.extract(data, **{option: True}) or "")
    return {"blocks": len(gold_all), "content_blocks": sum(gold_all),
            "systems": {name: {"content": f1(gold_all, kept, True), "boilerplate": f1(gold_all, kept, False)}
                        for name, kept in kept_all.items()},
            "article_text": article_text(shared, model, stoplist)}


def article_text(shared: Path, model, stoplist) -> dict:
    """Each system's article text on all 157 pages against the pages' own ground truth (the article body, as the
    Article Extraction Benchmark the pages come from gives it), as word-bag precision, recall and F1 per page,
    averaged over the pages. segclf's article text is its reported, quote and opinion blocks (`segclf score --only
    reported,quote,opinion`): the ground truth leaves out headlines' furniture and captions."""
    import justext
    import trafilatura
    from segclf import api
    from segclf.documents import Document
    from segclf.evaluation import word_bag_scores
    from segclf.html import parse_page

    truth = json.loads((shared / "pages" / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    article = {"reported", "quote", "opinion"}
    systems = {
        "segclf (--only reported,quote,opinion)": lambda data: "\n".join(
            p.text for p in api.label_documents([Document("p", parse_page(data).paragraphs)], model)[0].paragraphs
            if p.label in article),
        "trafilatura": lambda data: trafilatura.extract(data) or "",
        "trafilatura favor_precision": lambda data: trafilatura.extract(data, favor_precision=True) or "",
        "trafilatura favor_recall": lambda data: trafilatura.extract(data, favor_recall=True) or "",
        "jusText": lambda data: "\n".join(p.text for p in justext.justext(data, stoplist) if not p.is_boilerplate),
    }
    scores: dict[str, list] = {name: [] for name in systems}
    for key, page in sorted(truth.items()):
        data = gzip.decompress((shared / "pages" / "aeb" / "html" / f"{key}.html.gz").read_bytes())
        for name, extract in systems.items():
            scores[name].append(word_bag_scores(extract(data), page["articleBody"]))
    return {"pages": len(truth), "systems": {name: dict(zip(("precision", "recall", "f1"),
                                                            (sum(column) / len(rows) for column in zip(*rows))))
                                             for name, rows in scores.items()}}


# -- the report ------------------------------------------------------------------------------------------------

def run_child(name: str, args) -> dict:
    command = [sys.executable, __file__, "--one", name, "--shared", args.shared, "--repeat", str(args.repeat)]
    if args.model:
        command += ["--model", args.model]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench: {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: $SEGCLF_MODEL or models/default.joblib)")
    parser.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared data folder")
    parser.add_argument("--repeat", type=int, default=10, help="copies of the WARC for the streaming run")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--speed-only", action="store_true", help="leave out the quality comparison")
    parser.add_argument("--one", default=None, metavar="NAME",
                        help="run one measurement alone and print its figures as JSON: segclf-score, segclf-predict, "
                             "segclf-blocks, trafilatura, justext or quality")
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # one core for everything, children included
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return
    if not (Path(args.shared) / "pages" / "aeb.warc.gz").is_file():
        raise SystemExit(f"bench: {args.shared}/pages/aeb.warc.gz not found (pass --shared)")
    from segclf.modelfile import load_model
    load_model(args.model)  # fail early, with segclf's message, when there is no model
    repeat = args.repeat
    args.repeat = 1
    results = {"segclf score (WARC, 157 pages)": run_child("segclf-score", args)}
    args.repeat = repeat
    if repeat > 1:
        results[f"segclf score (WARC x{repeat}, {157 * repeat} pages)"] = run_child("segclf-score", args)
    results["segclf blocks only (splitting, no labels)"] = run_child("segclf-blocks", args)
    results["trafilatura (extraction only)"] = run_child("trafilatura", args)
    results["jusText"] = run_child("justext", args)
    predict = run_child("segclf-predict", args)
    figures = {"core": core, "speed": results, "predict": predict}
    if not args.speed_only:
        figures["quality"] = run_child("quality", args)

    print(f"Speed on one core (cpu {core}), the 157 pages of shared/pages, model {args.model or 'default'}")
    print(f"{'':44} {'pages/s':>9} {'blocks/s':>10} {'seconds':>8} {'peak MB':>8}")
    for name, r in results.items():
        print(f"{name:44} {r['pages'] / r['seconds']:9.1f} {r['blocks'] / r['seconds']:10.0f} "
              f"{r['seconds']:8.2f} {r['peak_mb']:8.0f}")
    name = f"segclf predict (JSONL of the blocks, x{args.repeat})"
    print(f"{name:44} {'':>9} {predict['blocks'] / predict['seconds']:10.0f} "
          f"{predict['seconds']:8.2f} {predict['peak_mb']:8.0f}   <- paragraphs/s")
    traf = results["trafilatura (extraction only)"]
    best = max((r for name, r in results.items() if name.startswith("segclf score")), key=lambda r: r["pages"])
    ratio = (best["pages"] / best["seconds"]) / (traf["pages"] / traf["seconds"])
    print(f"segclf score / trafilatura pages/s: {ratio:.2f}x (target >= 3x); "
          f"predict {predict['blocks'] / predict['seconds']:,.0f} paragraphs/s (target >= 50,000)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if args.speed_only:
        return
    q = figures["quality"]
    print(f"\nBoilerplate vs content on real-dev ({q['blocks']} blocks, {q['content_blocks']} content), "
          f"aligned word by word")
    print(f"{'':44} {'content P':>9} {'R':>6} {'F1':>6}   {'boilerplate F1':>14}")
    for name, s in q["systems"].items():
        c = s["content"]
        print(f"{name:44} {c['precision']:9.3f} {c['recall']:6.3f} {c['f1']:6.3f}   {s['boilerplate']['f1']:14.3f}")
    a = q["article_text"]
    print(f"\nArticle text on all {a['pages']} pages against their ground truth (words, mean over pages)")
    print(f"{'':44} {'P':>9} {'R':>6} {'F1':>6}")
    for name, s in a["systems"].items():
        print(f"{name:44} {s['precision']:9.3f} {s['recall']:6.3f} {s['f1']:6.3f}")


if __name__ == "__main__":
    main()
