"""The batch run behind `segclf score`: pages in, one row per page and one per block out, at crawl scale.

How a run goes:
- the main process streams the inputs (segclf.inputs) and cuts them into batches of a few dozen pages, the same
  batches every time for the same inputs and settings;
- worker processes split each page into blocks (segclf.html), label them, and write the batch as one shard per
  table (pages/part-NNNNNN.*, blocks/part-NNNNNN.*), each written atomically;
- the main process appends a line per finished shard to shards.jsonl (the manifest's log). A rerun of the same
  command skips the batches listed there and redoes the others, whose files, if any, are overwritten whole: no page
  is lost and none is written twice, wherever the run was killed.
Memory stays flat: only the batches in flight (two per worker) are held, each capped in pages and bytes.

A page that cannot be read or parsed becomes a page row with status "error" and the reason; the run goes on. Only a
failure of the run itself (bad arguments, an unwritable output, a worker that keeps dying) raises SegclfError.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from segclf import __version__
from segclf.api import label_documents
from segclf.documents import LABELS, Document, Paragraph
from segclf.errors import SegclfError
from segclf.html import MAX_BLOCKS, MAX_PAGE_BYTES, PageError, parse_page
from segclf.inputs import Item, PageInput, Skipped, check_inputs, iter_inputs, total_size
from segclf.io import atomic_output, json_line
from segclf.modelfile import SavedModel
from segclf.runtime import settle_for_bulk_labeling

OUTPUT_FORMATS = ("parquet", "jsonl")
MANIFEST = "manifest.json"
SHARD_LOG = "shards.jsonl"
SCHEMA_VERSION = 1


# -- settings and results --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreSettings:
    """What decides a run's output; a resumed run must have the same."""

    output_format: str = "parquet"
    only: tuple[str, ...] = ()  # keep only blocks with these labels, and write each page's text from them
    # With `only`: keep a block when those labels' probabilities sum to at least this, rather than when its own
    # label is one of them; higher keeps less and surer text (precision), lower keeps more (recall).
    min_probability: float | None = None
    batch_pages: int = 64
    batch_bytes: int = 32 * 1024 * 1024
    max_page_bytes: int = MAX_PAGE_BYTES
    max_blocks: int = MAX_BLOCKS
    keep_hidden: bool = False

    def check(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise SegclfError(f"unknown output format {self.output_format!r} "
                              f"(expected one of {', '.join(OUTPUT_FORMATS)})")
        unknown = [label for label in self.only if label not in LABELS]
        if unknown:
            raise SegclfError(f"unknown label{'s' * (len(unknown) > 1)} in --only: {', '.join(unknown)} "
                              f"(expected some of {', '.join(LABELS)})")
        if self.min_probability is not None:
            if not self.only:
                raise SegclfError("--min-probability needs --only (the labels whose probability it bounds)")
            if not 0.0 < self.min_probability <= 1.0:
                raise SegclfError(f"--min-probability must be above 0 and at most 1, not {self.min_probability}")
        for name in ("batch_pages", "batch_bytes", "max_page_bytes", "max_blocks"):
            if getattr(self, name) < 1:
                raise SegclfError(f"{name.replace('_', '-')} must be at least 1")


@dataclass
class RunSummary:
    out_dir: str
    pages: int = 0
    ok: int = 0
    errors: int = 0
    blocks: int = 0
    labels: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)  # the start of each reason, to group them
    shards: int = 0
    resumed: int = 0  # shards found done from an earlier, interrupted run
    scored_now: int = 0  # pages scored by this run (the rest came from the earlier one)
    seconds: float = 0.0

    def add(self, shard: dict[str, Any]) -> None:
        self.shards += 1
        self.pages += shard["pages"]
        self.ok += shard["ok"]
        self.errors += shard["errors"]
        self.blocks += shard["blocks"]
        self.labels.update(shard["labels"])
        self.skipped.update(shard["skipped"])
        self.error_reasons.update(shard["error_reasons"])

    def as_dict(self) -> dict[str, Any]:
        return {"pages": self.pages, "ok": self.ok, "errors": self.errors, "blocks": self.blocks,
                "labels": {label: self.labels.get(label, 0) for label in LABELS},
                "skipped": dict(self.skipped.most_common()), "error_reasons": dict(self.error_reasons.most_common()),
                "shards": self.shards}

    def format(self) -> str:
        rate = f", {self.scored_now / self.seconds:.1f} pages/s" if self.seconds > 0 and self.scored_now else ""
        lines = [f"{self.pages} pages: {self.ok} ok, {self.errors} errors; {self.blocks} blocks "
                 f"in {self.shards} shards ({self.resumed} from an earlier run){rate}"]
        if self.blocks:
            lines.append("labels   " + ", ".join(f"{label} {self.labels.get(label, 0)}" for label in LABELS))
        if self.skipped:
            lines.append(f"skipped  {sum(self.skipped.values())} records that are not pages: "
                         + ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common()))
        if self.errors:
            lines.append("errors   " + "; ".join(f"{n} {reason}" for reason, n in self.error_reasons.most_common(5)))
        lines.append(f"output   {self.out_dir}")
        return "\n".join(lines)


class Progress(Protocol):
    """How a run reports its progress (the CLI draws a bar; the API default is silence)."""

    def start(self, total_bytes: int) -> None: ...

    def update(self, pages: int, bytes_done: int) -> None: ...  # running totals


# -- output tables ---------------------------------------------------------------------------------------------

_PROB = [f"p_{label}" for label in LABELS]
_COUNT = [f"n_{label}" for label in LABELS]

BLOCK_SCHEMA = pa.schema([
    ("page_id", pa.string()), ("url", pa.string()), ("warc_record_id", pa.string()), ("block_index", pa.int32()),
    ("text", pa.string()), ("tag", pa.string()), ("cues", pa.list_(pa.string())), ("link_density", pa.float32()),
    ("class_tokens", pa.string()), ("label", pa.string()), *((name, pa.float32()) for name in _PROB),
])

PAGE_SCHEMA = pa.schema([
    ("page_id", pa.string()), ("source", pa.string()), ("offset", pa.int64()), ("url", pa.string()),
    ("canonical_url", pa.string()), ("warc_record_id", pa.string()), ("warc_date", pa.string()),
    ("content_type", pa.string()), ("bytes", pa.int64()), ("sha256", pa.string()), ("encoding", pa.string()),
    ("lang", pa.string()), ("status", pa.string()), ("error", pa.string()), ("blocks", pa.int32()),
    *((name, pa.int32()) for name in _COUNT), ("opinion_share", pa.float32()), ("model_version", pa.string()),
])
TEXT_FIELD = pa.field("text", pa.string())  # pages only, with --only: the kept blocks' text, one per line


def page_schema(settings: ScoreSettings) -> pa.Schema:
    return PAGE_SCHEMA.append(TEXT_FIELD) if settings.only else PAGE_SCHEMA


class _Columns:
    """Rows gathered column by column, the way Arrow wants them."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.data: dict[str, list] = {name: [] for name in schema.names}

    def add(self, **row: Any) -> None:
        for name, values in self.data.items():
            values.append(row.get(name))

    def extend(self, count: int, **columns: Any) -> None:
        """`count` rows at once: a list per column, or one value repeated."""
        for name, values in self.data.items():
            column = columns.get(name)
            values.extend(column if isinstance(column, list) else [column] * count)

    def write(self, path: Path, output_format: str) -> None:
        if output_format == "parquet":
            table = pa.Table.from_pydict(self.data, schema=self.schema)
            with atomic_output(str(path), "wb") as stream:
                pq.write_table(table, stream, compression="zstd")
            return
        names = self.schema.names
        with atomic_output(str(path)) as stream:
            for values in zip(*(self.data[name] for name in names)):
                stream.write(json_line({name: _round(value) for name, value in zip(names, values)}))


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


# -- scoring one batch (in a worker) ---------------------------------------------------------------------------

@dataclass
class Batch:
    number: int
    pages: list[PageInput]
    skipped: Counter = field(default_factory=Counter)
    size: int = 0  # input bytes it covers, skipped records included

    @property
    def first(self) -> str | None:
        return self.pages[0].page_id if self.pages else None


def _reason_group(reason: str) -> str:
    """The kind of an error, for the summary: the reason up to its first detail (a colon, a bracket, a number)."""
    return re.split(r":| \(| at byte| \d", reason, maxsplit=1)[0]


def _parse(page: PageInput, settings: ScoreSettings):
    """The page's document and HTML facts, or raises PageError."""
    if page.document is not None:
        if not page.document.paragraphs:
            raise PageError("no paragraphs in the document")
        return page.document, None
    parsed = parse_page(page.data or b"", page.content_type, max_bytes=settings.max_page_bytes,
                        max_blocks=settings.max_blocks, keep_hidden=settings.keep_hidden)
    if not parsed.paragraphs:
        raise PageError("no text in the page (it may need JavaScript to show any)")
    return Document(page.page_id, parsed.paragraphs, origin=page.source), parsed


def score_batch(batch: Batch, model: SavedModel, settings: ScoreSettings) -> tuple[_Columns, _Columns]:
    """Page rows and block rows of one batch. Every page gets a row; a page that fails gets its reason."""
    pages = _Columns(page_schema(settings))
    blocks = _Columns(BLOCK_SCHEMA)
    parsed: list[tuple[PageInput, Document, Any]] = []
    failed: dict[int, str] = {}
    for i, page in enumerate(batch.pages):
        if page.error:
            failed[i] = page.error
            continue
        try:
            document, facts = _parse(page, settings)
        except PageError as error:
            failed[i] = str(error)
        except Exception as error:  # noqa: BLE001 - a parser bug on one page must not stop the run
            failed[i] = f"internal error while parsing ({type(error).__name__}: {error})"
        else:
            parsed.append((page, document, facts))
    _label(parsed, model, failed, batch.pages)
    done = {id(page): (document, facts) for page, document, facts in parsed}
    keep = block_keeper(settings)
    for i, page in enumerate(batch.pages):
        common = {"page_id": page.page_id, "url": page.url, "warc_record_id": page.warc_record_id}
        facts_row = {**common, "source": page.source, "offset": page.offset, "warc_date": page.warc_date,
                     "content_type": page.content_type, "model_version": model.version,
                     "bytes": len(page.data) if page.data is not None else None,
                     "sha256": sha256(page.data).hexdigest() if page.data is not None else None}
        if i in failed or id(page) not in done:
            pages.add(**facts_row, status="error", error=failed.get(i, "not labeled"))
            continue
        document, facts = done[id(page)]
        counts = Counter(p.label for p in document.paragraphs)
        content = sum(len(p.text) for p in document.paragraphs if p.label != "boilerplate")
        opinion = sum(len(p.text) for p in document.paragraphs if p.label == "opinion")
        rows = [(index, p) for index, p in enumerate(document.paragraphs) if keep(p)]
        kept = [p.text for _, p in rows]
        blocks.extend(len(rows), **common, block_index=[index for index, _ in rows], text=kept,
                      label=[p.label for _, p in rows],
                      tag=[p.structure.tag if p.structure else None for _, p in rows],
                      cues=[sorted(p.structure.cues) if p.structure else None for _, p in rows],
                      link_density=[p.structure.link_density if p.structure else None for _, p in rows],
                      class_tokens=[p.structure.class_tokens if p.structure else None for _, p in rows],
                      **{name: [(p.scores or {}).get(label) for _, p in rows] for name, label in zip(_PROB, LABELS)})
        pages.add(**facts_row, status="ok", blocks=len(document.paragraphs),
                  encoding=facts.encoding if facts else None, lang=facts.lang if facts else None,
                  canonical_url=facts.canonical_url if facts else None,
                  opinion_share=opinion / content if content else None,
                  text="\n".join(kept) if settings.only else None,
                  **{name: counts.get(label, 0) for name, label in zip(_COUNT, LABELS)})
    return pages, blocks


def block_keeper(settings: ScoreSettings):
    """Which labeled blocks get a block row (and go into the page's text): all, or those --only asks for."""
    only = frozenset(settings.only)
    if not only:
        return lambda paragraph: True
    if settings.min_probability is None:
        return lambda paragraph: paragraph.label in only
    threshold = settings.min_probability - 1e-9  # probabilities summing to 1 may add up to a hair under it
    return lambda paragraph: sum(paragraph.scores[label] for label in only if label in paragraph.scores) >= threshold


def _label(parsed: list, model: SavedModel, failed: dict[int, str], pages: list[PageInput]) -> None:
    """Label all parsed pages in one call (much faster); if that fails, page by page, to find the culprit."""
    try:
        label_documents([document for _, document, _ in parsed], model)
        return
    except Exception:  # noqa: BLE001 - retried below, one page at a time
        pass
    index = {id(page): i for i, page in enumerate(pages)}
    labeled = []
    for item in parsed:
        try:
            label_documents([item[1]], model)
            labeled.append(item)
        except Exception as error:  # noqa: BLE001
            failed[index[id(item[0])]] = f"internal error while labeling ({type(error).__name__}: {error})"
    parsed[:] = labeled


def shard_paths(out_dir: Path, number: int, output_format: str) -> tuple[Path, Path]:
    name = f"part-{number:06d}.{output_format}"
    return out_dir / "pages" / name, out_dir / "blocks" / name


def write_batch(batch: Batch, model: SavedModel, settings: ScoreSettings, out_dir: Path) -> dict[str, Any]:
    """Score one batch and write its two shard files, each atomically; the caller logs it as done."""
    record = {"shard": batch.number, "pages": len(batch.pages), "first": batch.first,
              "last": batch.pages[-1].page_id if batch.pages else None, "bytes": batch.size,
              "skipped": dict(batch.skipped), "ok": 0, "errors": 0, "blocks": 0, "labels": {}, "error_reasons": {}}
    if not batch.pages:
        return record
    pages, blocks = score_batch(batch, model, settings)
    pages_path, blocks_path = shard_paths(out_dir, batch.number, settings.output_format)
    blocks.write(blocks_path, settings.output_format)
    pages.write(pages_path, settings.output_format)
    statuses = Counter(pages.data["status"])
    labels: Counter = Counter()
    for name, label in zip(_COUNT, LABELS):
        labels[label] = sum(n for n in pages.data[name] if n)
    record.update(ok=statuses["ok"], errors=statuses["error"], blocks=sum(n for n in pages.data["blocks"] if n),
                  labels=dict(labels),
                  error_reasons=dict(Counter(_reason_group(e) for e in pages.data["error"] if e)))
    return record


# -- worker processes ------------------------------------------------------------------------------------------

_WORKER_MODEL: SavedModel | None = None


def _init_worker(model: SavedModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model
    threadpool_limits(1)  # one BLAS thread per worker: the workers are the parallelism
    settle_for_bulk_labeling()


def _work(batch: Batch, settings: ScoreSettings, out_dir: Path) -> dict[str, Any]:
    assert _WORKER_MODEL is not None
    return write_batch(batch, _WORKER_MODEL, settings, out_dir)


def _probe(page: PageInput, settings: ScoreSettings) -> None:
    """Parse one page and throw the result away: run alone, it tells whether this page kills its process."""
    try:
        _parse(page, settings)
    except Exception:  # noqa: BLE001 - only a dead process matters here
        pass


def _isolate(batches: list[Batch], settings: ScoreSettings, context) -> list[Batch]:
    """Find the pages that kill the process parsing them, parsing each alone in a spare process; they become error
    pages, and their batches can then be scored with the others."""
    executor = ProcessPoolExecutor(1, mp_context=context)
    checked = []
    try:
        for batch in batches:
            pages = []
            for page in batch.pages:
                if page.data is not None and not page.error:
                    try:
                        executor.submit(_probe, page, settings).result()
                    except BrokenProcessPool:
                        page = replace(page, data=None, error="the worker process died while parsing this page "
                                                              "(a crash in the HTML parser)")
                        executor.shutdown(wait=False)
                        executor = ProcessPoolExecutor(1, mp_context=context)
                pages.append(page)
            checked.append(replace(batch, pages=pages))
    finally:
        executor.shutdown(wait=False)
    return checked


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _context(name: str | None):
    """The platform's start method unless told otherwise. Where that is fork (Linux before Python 3.14), workers
    share the loaded model instead of unpickling their own copy, and a caller's script needs no __main__ guard;
    the pool is started before any progress-bar thread, since forking a process that runs threads is unsafe."""
    return multiprocessing.get_context(name)


def _ready() -> None:
    """A task that does nothing: submitting it makes the pool start its workers now."""


class _Pool:
    """Worker processes fed with a bounded number of batches.

    When a worker dies (a crash in native code, the kernel's OOM killer), every batch in flight dies with the pool:
    their pages are checked one by one in a spare process, those that kill it become error pages, and the batches
    are sent again to a new pool. A batch that still kills its worker after that ends the run.
    """

    def __init__(self, workers: int, model: SavedModel, settings: ScoreSettings, out_dir: Path, context):
        self.workers, self.model, self.settings, self.out_dir, self.context = workers, model, settings, out_dir, context
        self.executor = self._start()
        self.running: dict[Future, tuple[Batch, int]] = {}

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(self.workers, mp_context=self.context, initializer=_init_worker,
                                       initargs=(self.model,))
        try:
            executor.submit(_ready).result()  # workers up (all of them, with fork) before the caller starts threads
        except BrokenProcessPool:
            raise SegclfError("the worker processes could not start (out of memory?)") from None
        return executor

    def submit(self, batch: Batch, attempt: int = 0) -> None:
        try:
            future = self.executor.submit(_work, batch, self.settings, self.out_dir)
        except BrokenProcessPool as error:  # died since the last look: handled with the others in collect()
            future = Future()
            future.set_exception(error)
        self.running[future] = (batch, attempt)

    def full(self) -> bool:
        return len(self.running) >= 2 * self.workers

    def collect(self) -> list[dict[str, Any]]:
        """Wait for at least one batch to finish; the records of all that did."""
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        records, broken = [], []
        for future in done:
            batch, attempt = self.running.pop(future)
            try:
                records.append(future.result())
            except BrokenProcessPool:
                broken.append((batch, attempt))
            except Exception as error:  # pages fail one by one inside; this is the run failing (disk full, ...)
                raise SegclfError(f"shard {batch.number} (pages {batch.first} .. {batch.pages[-1].page_id}) "
                                  f"failed: {type(error).__name__}: {error}; rerun the command to resume") from None
        if broken:
            broken += [self.running.pop(future) for future in list(self.running)]
            self.executor.shutdown(wait=False, cancel_futures=True)
            broken.sort(key=lambda item: item[0].number)
            for batch, attempt in broken:
                if attempt >= 1:
                    raise SegclfError(f"a worker process died twice on the batch of pages {batch.first} .. "
                                      f"{batch.pages[-1].page_id}, the second time with its pages checked "
                                      f"one by one; the run stops (rerun the command to resume)")
            checked = _isolate([batch for batch, _ in broken], self.settings, self.context)
            self.executor = self._start()
            for batch in checked:
                self.submit(batch, attempt=1)
        return records

    def close(self, cancel: bool = False) -> None:
        self.executor.shutdown(wait=not cancel, cancel_futures=cancel)


# -- batching and the run --------------------------------------------------------------------------------------

def make_batches(items: Iterable[Item], settings: ScoreSettings) -> Iterator[Batch]:
    """Cut the record stream into batches: deterministic for the same inputs and settings, which is what lets a
    resumed run recognise the batches it already wrote. Skipped records count in the batch they fall in."""
    number = 0
    batch = Batch(0, [])
    data_bytes = 0
    for item in items:
        batch.size += item.size
        if isinstance(item, Skipped):
            batch.skipped[item.reason] += 1
            continue
        batch.pages.append(item)
        data_bytes += len(item.data or b"")
        if len(batch.pages) >= settings.batch_pages or data_bytes >= settings.batch_bytes:
            yield batch
            number += 1
            batch, data_bytes = Batch(number, []), 0
    if batch.pages or batch.skipped or number == 0:
        yield batch


def _model_identity(model: SavedModel) -> dict[str, Any]:
    return {"version": model.version, "created": model.card.get("created"),
            "corpus_sha256": (model.card.get("corpus") or {}).get("sha256")}


def _run_identity(inputs: Sequence[str], model: SavedModel, settings: ScoreSettings) -> dict[str, Any]:
    identity = {"schema_version": SCHEMA_VERSION, "inputs": [os.path.abspath(p) for p in inputs],
                "model": _model_identity(model), "settings": asdict(settings)}
    return json.loads(json.dumps(identity))  # as the manifest will hold it (tuples become lists)


class _Output:
    """The output directory: manifest.json (what the run is, and its totals when complete), shards.jsonl (one line
    per finished shard, appended and synced), pages/ and blocks/ (the shards)."""

    def __init__(self, out_dir: Path, identity: dict[str, Any], overwrite: bool):
        self.dir = out_dir
        self.identity = identity
        self.manifest_path = out_dir / MANIFEST
        self.log_path = out_dir / SHARD_LOG
        self.done: dict[int, dict[str, Any]] = {}
        self.complete = False
        if overwrite:
            self._clear()
        if self.manifest_path.exists():
            self._resume()
        else:
            if out_dir.exists() and any(out_dir.iterdir()):
                raise SegclfError(f"{out_dir}: not empty and holds no segclf score run; use an empty or new "
                                  f"directory")
            self._write_manifest({"status": "running"})
        for table in ("pages", "blocks"):
            (out_dir / table).mkdir(parents=True, exist_ok=True)
            for stale in (out_dir / table).glob(".part-*.tmp"):  # left by a killed run's atomic writes
                stale.unlink()

    def _clear(self) -> None:
        """Remove a previous run's files (only those a run writes)."""
        for table in ("pages", "blocks"):
            folder = self.dir / table
            if folder.is_dir():
                for file in folder.glob("*part-*"):
                    file.unlink()
                if not any(folder.iterdir()):
                    folder.rmdir()
        for name in (MANIFEST, SHARD_LOG):
            (self.dir / name).unlink(missing_ok=True)

    def _resume(self) -> None:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SegclfError(f"{self.manifest_path}: unreadable manifest ({error}); use a new directory "
                              f"or --overwrite") from None
        previous = {key: manifest.get(key) for key in self.identity}
        if previous != self.identity:
            changed = ", ".join(key for key in self.identity if previous.get(key) != self.identity[key])
            raise SegclfError(f"{self.dir}: holds a run with other {changed}; rerun with the same command to "
                              f"finish it, or use a new directory or --overwrite")
        self.complete = manifest.get("status") == "complete"
        self.done = self._read_log()

    def _read_log(self) -> dict[int, dict[str, Any]]:
        done: dict[int, dict[str, Any]] = {}
        if not self.log_path.exists():
            return done
        good = 0
        with open(self.log_path, "rb") as stream:
            for line in stream:
                try:
                    record = json.loads(line)
                    if not line.endswith(b"\n"):
                        raise ValueError("partial line")
                except ValueError:
                    break  # a line cut short by a kill: that shard is simply done again
                done[record["shard"]] = record
                good += len(line)
        if good != self.log_path.stat().st_size:
            with open(self.log_path, "r+b") as stream:
                stream.truncate(good)
        return done

    def _write_manifest(self, extra: dict[str, Any]) -> None:
        manifest = {"format": "segclf-score", **self.identity, "segclf": __version__, **extra}
        with atomic_output(str(self.manifest_path)) as stream:
            stream.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    def record(self, shard: dict[str, Any]) -> None:
        with open(self.log_path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(shard, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        self.done[shard["shard"]] = shard

    def finish(self, summary: RunSummary) -> None:
        self._write_manifest({"status": "complete", "finished": datetime.now(timezone.utc).isoformat(
            timespec="seconds"), "totals": summary.as_dict()})


def _check_model(model: SavedModel) -> None:
    """A model that cannot label a plain two-paragraph page would fail every page: that is the run failing."""
    probe = Document("probe", [Paragraph("Police said on Monday that the road was closed."), Paragraph("Home")])
    try:
        label_documents([probe], model)
    except Exception as error:  # noqa: BLE001 - whatever it is, no page could be labeled
        where = f"{model.path}: " if model.path else ""
        raise SegclfError(f"{where}the model cannot label pages ({type(error).__name__}: {error}); it may come "
                          f"from another version of segclf's features: retrain it with `segclf train`") from None


def score(inputs: Sequence[str], out_dir: str | os.PathLike, model: SavedModel,
          settings: ScoreSettings = ScoreSettings(), *, workers: int | None = None, progress: Progress | None = None,
          overwrite: bool = False, start_method: str | None = None) -> RunSummary:
    """Score every page of `inputs` into `out_dir`; resumes an interrupted run of the same command.

    `workers` processes (default: all available cores) split and label the pages; `start_method` is the
    multiprocessing start method (default: the platform's).
    """
    settings.check()
    check_inputs(inputs)
    if len(set(map(os.path.abspath, inputs))) != len(inputs):
        raise SegclfError("an input is given twice: its pages would be scored twice")
    _check_model(model)
    started = time.monotonic()
    out = Path(out_dir)
    try:
        output = _Output(out, _run_identity(inputs, model, settings), overwrite)
    except OSError as error:
        raise SegclfError(f"{out}: cannot write the output ({error.strerror or error})") from None
    summary = RunSummary(str(out))
    if output.complete:  # finished before: nothing to do, the same totals again
        for record in sorted(output.done.values(), key=lambda r: r["shard"]):
            summary.add(record)
        summary.resumed = summary.shards
        return summary
    workers = workers or default_workers()
    total = total_size(inputs)
    pool = _Pool(workers, model, settings, out, _context(start_method))
    if progress is not None:
        progress.start(total)
    pages_done = bytes_done = 0

    def finished(record: dict[str, Any], resumed: bool) -> None:
        nonlocal pages_done, bytes_done
        summary.add(record)
        summary.resumed += resumed
        summary.scored_now += 0 if resumed else record["pages"]
        pages_done += record["pages"]
        bytes_done += record["bytes"]
        if progress is not None:
            progress.update(pages_done, bytes_done)

    batches = 0
    try:
        for batch in make_batches(iter_inputs(inputs, settings.max_page_bytes), settings):
            batches += 1
            previous = output.done.get(batch.number)
            if previous is not None:
                if previous["first"] != batch.first or previous["pages"] != len(batch.pages):
                    raise SegclfError(f"{out}: the inputs changed since the interrupted run (batch {batch.number} "
                                      f"now starts with {batch.first}, was {previous['first']}); use a new "
                                      f"directory or --overwrite")
                finished(previous, resumed=True)
                continue
            if not batch.pages:  # only skipped records: nothing for a worker to do
                record = write_batch(batch, model, settings, out)
                output.record(record)
                finished(record, resumed=False)
                continue
            while pool.full():
                for record in pool.collect():
                    output.record(record)
                    finished(record, resumed=False)
            pool.submit(batch)
        while pool.running:
            for record in pool.collect():
                output.record(record)
                finished(record, resumed=False)
        if output.done and max(output.done) >= batches:  # shards of pages that are no longer there
            raise SegclfError(f"{out}: the inputs changed since the interrupted run (it wrote shard "
                              f"{max(output.done)}, they now make {batches}); use a new directory or --overwrite")
    except OSError as error:  # reading an input or writing the output, outside any one page
        pool.close(cancel=True)
        raise SegclfError(f"{error.filename or out}: {error.strerror or error}; rerun the command to resume") from None
    except BaseException:
        pool.close(cancel=True)
        raise
    pool.close()
    summary.seconds = time.monotonic() - started
    output.finish(summary)
    return summary


def read_table(out_dir: str | os.PathLike, table: str = "pages") -> pa.Table:
    """One output table of a run as an Arrow table (pandas: `.to_pandas()`), from Parquet or JSONL shards."""
    folder = Path(out_dir) / table
    parquet = sorted(folder.glob("part-*.parquet"))
    if parquet:
        return pa.concat_tables([pq.read_table(path) for path in parquet])
    rows = [json.loads(line) for path in sorted(folder.glob("part-*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pa.Table.from_pylist(rows)
