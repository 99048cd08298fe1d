"""`segclf score` on Apache Spark: the same rows, for crawls that outgrow one machine.

How a job goes (spark_score):
1. the driver expands the inputs into files: local paths (folders walked as `segclf score` walks them), URIs
   (file://, hdfs://, s3://, s3a://, gs://; folders listed through pyarrow.fs) and the lines of a path list;
2. a light first stage looks at every file on the executors: its size, its kind when the name does not tell, and
   whether a .warc.gz can be read in byte ranges (one gzip member per record, segclf.warc.splittable);
3. the driver cuts the files into units, a byte range of a big .warc.gz (each range owns the records that start in
   it, segclf.warc.record_range) or a whole file, and packs the units into tasks of about `split_bytes` of input;
4. each task reads its units with the readers of `segclf score` (segclf.inputs, segclf.warc), cuts the records into
   the same kind of batches (scoring.make_batches) and scores each with scoring.score_batch, the function behind
   `segclf score`; it hands Spark Arrow record batches (mapInArrow) of page rows, block rows and skipped counts;
5. that result is persisted and written as two Parquet tables, pages/ and blocks/, with scoring.PAGE_SCHEMA and
   scoring.BLOCK_SCHEMA; then the totals are counted and manifest.json is written, last: it marks a finished job.

The model is loaded and checked once, on the driver, and broadcast: each Python worker unpickles it once and keeps it
for all the tasks it runs. A bad record becomes an error row exactly as in `segclf score`. A page that kills its
Python worker (a crash in native code) fails its task; Spark runs the task again, and that attempt first parses each
page alone in a spare process (scoring._isolate), so the culprit becomes an error row, as in `segclf score`.

pyspark is an optional dependency (`pip install segclf[spark]`): it is imported only when a job runs.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import pyarrow as pa

from segclf import __version__
from segclf.documents import LABELS
from segclf.errors import SegclfError
from segclf.inputs import Item, _sniff_kind, expand_inputs, iter_file, kind_of
from segclf.io import atomic_output
from segclf.modelfile import SavedModel, load_model
from segclf.runtime import settle_for_bulk_labeling
from segclf.scoring import (BLOCK_SCHEMA, SCHEMA_VERSION, Batch, RunSummary, ScoreSettings, _check_model, _isolate,
                            _model_identity, make_batches, page_schema, score_batch)
from segclf.warc import iter_warc, record_range, splittable

MIN_SPLIT = 1 << 20  # input bytes per task: no smaller than this by default ...
MAX_SPLIT = 128 << 20  # ... nor larger (one to two minutes of one core on WARC input)
TASKS_PER_CORE = 3  # by default, enough tasks for every core to take about this many: a slow one holds up less
OPEN_COST = 64 << 10  # what opening a file costs, in input bytes, when small files are packed into tasks
MANIFEST = "manifest.json"
TABLES = ("pages", "blocks")
SUBMITTED = "PYSPARK_GATEWAY_PORT"  # set when spark-submit (or a notebook) started the Python driver
_SKIPPED_ROW = "skipped"


# -- where the inputs are: local paths and URIs ----------------------------------------------------------------

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PYARROW_SCHEMES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}  # Hadoop's names for what pyarrow calls s3 and gs
_BUCKET_SCHEMES = ("s3", "gs")  # pyarrow names their files bucket/key
_FILESYSTEMS: dict[tuple[str, str], Any] = {}


def is_uri(path: str) -> bool:
    return bool(_URI.match(path))


def _filesystem(uri: str) -> tuple[Any, str]:
    """The pyarrow filesystem of a URI (one per scheme and host or bucket, made once) and the file's path in it."""
    from pyarrow import fs as pafs

    parts = urlsplit(uri)
    scheme = _PYARROW_SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    path = f"{parts.netloc}{parts.path}" if scheme in _BUCKET_SCHEMES else parts.path
    key = (scheme, parts.netloc)
    if key not in _FILESYSTEMS:
        try:
            _FILESYSTEMS[key] = pafs.FileSystem.from_uri(f"{scheme}://{parts.netloc}/")[0]
        except (pa.ArrowException, ValueError) as error:
            raise OSError(f"cannot open {scheme}:// ({error})") from None
    return _FILESYSTEMS[key], path


def open_input(location: str) -> BinaryIO:
    """A buffered, seekable binary stream on a local path or a URI; OSError when it cannot be opened."""
    if not is_uri(location):
        return open(location, "rb")
    filesystem, path = _filesystem(location)
    try:
        native = filesystem.open_input_file(path)
    except OSError:
        raise
    except pa.ArrowException as error:
        raise OSError(str(error)) from None
    return io.BufferedReader(native, buffer_size=1 << 20)


def _file_size(location: str) -> int:
    if not is_uri(location):
        return os.path.getsize(location)
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(location)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(location)
    return info.size or 0


@dataclass(frozen=True)
class InputFile:
    name: str  # the file as the rows name it (page_id, source): the path or URI as given
    location: str  # where executors open it: an absolute local path or a URI
    kind: str | None  # html, warc, jsonl, unreadable, None (another kind: skipped) or "?" (look at its bytes)


def _expand_uri(uri: str) -> list[InputFile]:
    from pyarrow import fs as pafs

    try:
        filesystem, path = _filesystem(uri)
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise SegclfError(f"{uri}: no such file or directory")
        if info.type != pafs.FileType.Directory:
            return [InputFile(uri, uri, kind_of(uri) or "?")]
        entries = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    except OSError as error:
        raise SegclfError(f"{uri}: cannot read it ({error})") from None
    base, root = uri.rstrip("/"), path.rstrip("/")
    files = sorted(entry.path for entry in entries if entry.type == pafs.FileType.File)
    return [InputFile(base + file[len(root):], base + file[len(root):], kind_of(file)) for file in files]


def read_path_list(path_list: str, prefix: str = "") -> list[str]:
    """The inputs a path list names, one a line (gzipped or not; blank lines and # comments ignored), each after
    `prefix`: Common Crawl's warc.paths.gz with the prefix s3://commoncrawl/, say."""
    try:
        with open_input(path_list) as raw:
            data = raw.read()
    except OSError as error:
        raise SegclfError(f"{path_list}: cannot read the path list ({error})") from None
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise SegclfError(f"{path_list}: the path list is not UTF-8 text") from None
    return [prefix + line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def expand(inputs: Sequence[str], listed: Sequence[str] = ()) -> list[InputFile]:
    """The files to score: `inputs` (files or folders, local or URIs, checked now, as `segclf score` checks them) and
    `listed` (files from a path list, not checked: one that cannot be read becomes an error row)."""
    if not inputs and not listed:
        raise SegclfError("no inputs given")
    files: list[InputFile] = []
    for path in inputs:
        if is_uri(path):
            files.extend(_expand_uri(path))
        elif not os.path.exists(path):
            raise SegclfError(f"{path}: no such file or directory")
        else:
            files.extend(InputFile(file, os.path.abspath(file), kind) for file, kind in expand_inputs([path]))
    for path in listed:
        files.append(InputFile(path, path if is_uri(path) else os.path.abspath(path), kind_of(path) or "?"))
    seen: set[str] = set()
    for file in files:
        if file.location in seen:
            raise SegclfError(f"{file.name}: given twice: its pages would be scored twice")
        seen.add(file.location)
    return files


# -- planning: units of work and tasks -------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """A file, or a byte range of a splittable .warc.gz (end -1: the whole file)."""

    name: str
    location: str
    kind: str | None
    size: int
    start: int = 0
    end: int = -1

    @property
    def cost(self) -> int:
        return max((self.end - self.start) if self.end >= 0 else self.size, OPEN_COST)


UNIT_FIELDS = [("name", "string"), ("location", "string"), ("kind", "string"), ("size", "bigint"),
               ("start", "bigint"), ("end", "bigint")]


def _look(file: InputFile) -> tuple[InputFile, int, bool]:
    """On an executor: the file, its size, and whether it can be read in byte ranges (kind "?" resolved)."""
    kind, size, can_split = file.kind, 0, False
    try:
        size = _file_size(file.location)
        if kind == "?":
            kind = _sniff_kind(file.location, open_input)
        if kind == "warc":
            with open_input(file.location) as stream:
                can_split = splittable(stream)
    except (OSError, ValueError, pa.ArrowException):
        pass  # reading it gives the error row
    if kind == "?":
        kind = "html"  # as `segclf score` takes a file it cannot sniff: reading it gives the error row
    return InputFile(file.name, file.location, kind), size, can_split


def auto_split_bytes(total_bytes: int, cores: int) -> int:
    """Input bytes per task: the input shared out as TASKS_PER_CORE tasks per core, within MIN_SPLIT..MAX_SPLIT."""
    return min(MAX_SPLIT, max(MIN_SPLIT, math.ceil(total_bytes / (TASKS_PER_CORE * max(cores, 1)))))


def plan_units(looked: Iterable[tuple[InputFile, int, bool]], split_bytes: int) -> list[Unit]:
    units = []
    for file, size, can_split in looked:
        if can_split and size > split_bytes:
            units.extend(Unit(file.name, file.location, file.kind, size, start, min(start + split_bytes, size))
                         for start in range(0, size, split_bytes))
        else:
            units.append(Unit(file.name, file.location, file.kind, size))
    return units


def pack(units: Sequence[Unit], split_bytes: int) -> list[list[Unit]]:
    """Consecutive units into as many tasks as `split_bytes` of input each makes, shared out evenly (by input bytes,
    a file counting at least OPEN_COST) so that the tasks finish together."""
    total = sum(unit.cost for unit in units)
    count = max(1, math.ceil(total / split_bytes))
    tasks: list[list[Unit]] = [[] for _ in range(count)]
    done = 0
    for unit in units:
        tasks[min(count - 1, int((done + unit.cost / 2) * count / max(total, 1)))].append(unit)
        done += unit.cost
    return [task for task in tasks if task]


def read_unit(unit: Unit, max_bytes: int) -> Iterator[Item]:
    """The records of one unit, read as `segclf score` reads its inputs."""
    def opener(_name: str) -> BinaryIO:
        return open_input(unit.location)

    if unit.end < 0:
        yield from iter_file(unit.name, unit.kind, max_bytes, opener, size=unit.size)
        return
    try:
        with open_input(unit.location) as stream:
            owned = record_range(stream, unit.start, unit.end, unit.size)
    except OSError as error:
        if unit.start == 0:  # one error row for the file, from the range that starts it
            yield from iter_warc(unit.name, max_bytes, open_file=_failing(error))
        return
    if owned is not None:
        yield from iter_warc(unit.name, max_bytes, start=owned[0], end=owned[1], open_file=opener)


def _failing(error: OSError):
    def opener(_name: str) -> BinaryIO:
        raise error
    return opener


# -- the rows: what each task returns --------------------------------------------------------------------------

def row_fields(settings: ScoreSettings) -> list[pa.Field]:
    """The columns of the rows tasks return: `_row` (page, block or skipped), every page and block column (`text` is
    the block's text on block rows, the page's kept text on page rows), and `_skipped` (skipped records, as JSON)."""
    fields, names = [pa.field("_row", pa.string())], {"_row"}
    for column in chain(page_schema(settings), BLOCK_SCHEMA):
        if column.name not in names:
            fields.append(column)
            names.add(column.name)
    fields.append(pa.field("_skipped", pa.string()))
    return fields


def _spark_type(arrow_type: pa.DataType):
    from pyspark.sql import types as T

    if pa.types.is_list(arrow_type):
        return T.ArrayType(_spark_type(arrow_type.value_type))
    simple = {pa.string(): T.StringType(), pa.int32(): T.IntegerType(), pa.int64(): T.LongType(),
              pa.float32(): T.FloatType(), pa.float64(): T.DoubleType()}
    return simple[arrow_type]


def spark_schema(settings: ScoreSettings):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, _spark_type(f.type), True) for f in row_fields(settings)])


def _arrow_schema(spark, schema) -> pa.Schema:
    """The Arrow schema Spark expects back from mapInArrow for `schema`."""
    from pyspark.sql.pandas.types import to_arrow_schema

    large = str(spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false")).lower() == "true"
    try:
        return to_arrow_schema(schema, prefers_large_types=large)
    except TypeError:  # pyspark 3.5 has no prefers_large_types
        return to_arrow_schema(schema)


def _table(columns: dict[str, list], kind: str, count: int, schema: pa.Schema) -> pa.Table:
    arrays = []
    for column in schema:
        if column.name == "_row":
            arrays.append(pa.array([kind] * count, column.type))
        elif column.name in columns:
            arrays.append(pa.array(columns[column.name], column.type))
        else:
            arrays.append(pa.nulls(count, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def batch_rows(batch: Batch, model: SavedModel, settings: ScoreSettings, schema: pa.Schema) -> pa.Table:
    """One batch scored as `segclf score` scores it, as rows of `schema` (row_fields)."""
    parts = []
    if batch.pages:
        pages, blocks = score_batch(batch, model, settings)
        parts.append(_table(pages.data, "page", len(pages.data["page_id"]), schema))
        parts.append(_table(blocks.data, "block", len(blocks.data["page_id"]), schema))
    if batch.skipped:
        parts.append(_table({"_skipped": [json.dumps(dict(batch.skipped), ensure_ascii=False)]}, _SKIPPED_ROW, 1,
                            schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


_WORKER: dict[str, Any] = {}  # per Python worker process, kept across the tasks it runs


def _worker_model(model_ref, driver_version: str) -> SavedModel:
    if __version__ != driver_version:
        raise SegclfError(f"the executors run segclf {__version__} and the driver {driver_version}: install the "
                          f"same segclf everywhere")
    model = model_ref.value  # a Broadcast: unpickled once in this process, then kept
    if "threads" not in _WORKER:
        from pyspark import TaskContext
        from threadpoolctl import threadpool_limits

        context = TaskContext.get()
        cpus = context.cpus() if context is not None and hasattr(context, "cpus") else 1
        threadpool_limits(max(int(cpus), 1))  # BLAS threads: the task's cores, as `segclf score` gives a worker one
        settle_for_bulk_labeling()  # this Python worker runs segclf's tasks, as a scoring worker does
        _WORKER["threads"] = cpus
    return model


def score_task(batches: Iterator[pa.RecordBatch], *, model_ref, settings: ScoreSettings, schema: pa.Schema,
               driver_version: str) -> Iterator[pa.RecordBatch]:
    """A task (mapInArrow): its units in, its rows out, one Arrow batch per batch of pages."""
    from pyspark import TaskContext

    model = _worker_model(model_ref, driver_version)
    context = TaskContext.get()
    retried = context is not None and context.attemptNumber() > 0
    units = [Unit(**row) for batch in batches for row in batch.to_pylist()]
    items = chain.from_iterable(read_unit(unit, settings.max_page_bytes) for unit in units)
    for batch in make_batches(items, settings):
        if retried and batch.pages:  # an earlier attempt died: find the pages that kill a process first
            batch = _isolate([batch], settings, multiprocessing.get_context("fork"))[0]
        yield from batch_rows(batch, model, settings, schema).to_batches()


# -- the session -----------------------------------------------------------------------------------------------

_LOCAL = re.compile(r"^local(\[(\*|\d+)\])?$")


def with_retries(master: str, attempts: int = 4) -> str:
    """A local master that retries failed tasks as a cluster does (local[N] never does): local[N] -> local[N,4]."""
    match = _LOCAL.match(master.strip())
    if not match:
        return master
    return f"local[{match.group(2) or 1},{attempts}]"


def start_session(master: str | None = None, conf: dict[str, str] | None = None,
                  app_name: str = "segclf spark-score"):
    """(session, started): the active SparkSession if there is one (under spark-submit, in a notebook), else a new
    one on `master` (default: what spark-submit was given, else local[*]); `started` tells whether to stop it."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SegclfError("pyspark is not installed: pip install 'segclf[spark]' (Spark also needs Java 17 or "
                          "newer)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    submitted = SUBMITTED in os.environ
    if not submitted:
        if not (shutil.which("java") or (os.environ.get("JAVA_HOME")
                                         and Path(os.environ["JAVA_HOME"], "bin", "java").exists())):
            raise SegclfError("Spark needs Java (17 or newer): install a JDK or set JAVA_HOME")
        master = master or "local[*]"
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(with_retries(master))
        if master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
            os.environ["PYSPARK_PYTHON"] = sys.executable  # local workers run this Python, which has segclf
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # noqa: BLE001 - the JVM failing to start, a bad master or setting
        raise SegclfError(f"Spark would not start ({_first_line(error)})") from None
    if not submitted:
        session.sparkContext.setLogLevel("WARN")
    return session, True


def load_job_model(location: str | None) -> SavedModel:
    """A model from a local path, a URI (copied to a temporary file first) or the name of a file that spark-submit
    --files shipped (looked up with SparkFiles when there is no such local file); None: the default model. The
    model is checked: one that cannot label a page fails here, before any task runs."""
    if location is None or (not is_uri(location) and Path(location).exists()):
        model = load_model(location)
    elif not is_uri(location):
        try:
            from pyspark import SparkFiles

            shipped = SparkFiles.get(location)
        except Exception:  # noqa: BLE001 - no SparkContext, or no such file: the plain error below
            shipped = None
        model = load_model(shipped if shipped and Path(shipped).exists() else location)
    else:
        model = _load_remote_model(location)
    _check_model(model)
    return model


def _load_remote_model(location: str) -> SavedModel:
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / (Path(urlsplit(location).path).name or "model.joblib")
        try:
            with open_input(location) as source, open(local, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        except OSError as error:
            raise SegclfError(f"{location}: cannot read the model ({error})") from None
        try:
            model = load_model(local)
        except SegclfError as error:
            raise SegclfError(str(error).replace(str(local), location)) from None
    model.path = location
    return model


# -- the output directory --------------------------------------------------------------------------------------

class _OutputDir:
    """pages/, blocks/ and manifest.json in a folder, wherever Spark puts it: a URI names its filesystem, a bare path
    is on the default one (the local disk with local[N], HDFS on most YARN clusters)."""

    def __init__(self, spark, out: str):
        self.spark = spark
        path, filesystem = self._hadoop(out)
        qualified = filesystem.makeQualified(path)
        self.local = str(filesystem.getUri().getScheme()).lower() == "file"
        if self.local:  # a folder here, named as Python names it (Hadoop's idea of the working directory may differ)
            self.path = os.path.abspath(out) if not is_uri(out) else str(qualified.toUri().getPath())
        else:
            self.path = str(qualified.toString()).rstrip("/")

    def table(self, name: str) -> str:
        """Where Spark writes the table `name` (or this file)."""
        return f"file://{os.path.join(self.path, name)}" if self.local else f"{self.path}/{name}"

    def _hadoop(self, location: str):
        context = self.spark.sparkContext
        path = context._jvm.org.apache.hadoop.fs.Path(location)
        return path, path.getFileSystem(context._jsc.hadoopConfiguration())

    def entries(self) -> list[str]:
        if self.local:
            return sorted(os.listdir(self.path)) if os.path.isdir(self.path) else []
        path, filesystem = self._hadoop(self.path)
        if not filesystem.exists(path):
            return []
        return sorted(status.getPath().getName() for status in filesystem.listStatus(path))

    def remove(self, name: str) -> None:
        if self.local:
            Path(self.path, name).unlink(missing_ok=True)
        else:
            path, filesystem = self._hadoop(self.table(name))
            filesystem.delete(path, False)

    def write_text(self, name: str, text: str) -> None:
        if self.local:
            with atomic_output(os.path.join(self.path, name)) as stream:
                stream.write(text)
            return
        path, filesystem = self._hadoop(self.table(name))
        stream = filesystem.create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def prepare(self, overwrite: bool) -> None:
        entries = self.entries()
        if not entries:
            return
        if not overwrite:
            raise SegclfError(f"{self.path}: not empty; use an empty or new directory, or --overwrite")
        other = [name for name in entries if name not in (*TABLES, MANIFEST)]
        if other:
            raise SegclfError(f"{self.path}: holds files that are not a segclf spark-score run ({', '.join(other[:3])}"
                              f"); use an empty or new directory")
        self.remove(MANIFEST)  # the tables are replaced as they are written


# -- the job ---------------------------------------------------------------------------------------------------

@dataclass
class SparkSummary(RunSummary):
    tasks: int = 0
    units: int = 0
    files: int = 0
    input_bytes: int = 0
    split_bytes: int = 0
    master: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def format(self) -> str:
        rate = f", {self.pages / self.seconds:.1f} pages/s" if self.seconds > 0 and self.pages else ""
        lines = RunSummary.format(self).splitlines()
        lines[0] = (f"{self.pages} pages: {self.ok} ok, {self.errors} errors; {self.blocks} blocks; from "
                    f"{self.files} file{'s' * (self.files != 1)} ({self.input_bytes / 1e6:,.1f} MB) in {self.tasks} "
                    f"task{'s' * (self.tasks != 1)} on {self.master} in {self.seconds:.1f} s{rate}")
        return "\n".join(lines)


def _first_line(error: BaseException) -> str:
    """What went wrong, in one line: a SegclfError raised in a task, else the last exception of a Python traceback,
    else the first line of the message."""
    text = str(error)
    found = re.findall(r"SegclfError: (.+)", text)
    if found:
        return found[-1].strip()
    raised = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception): .+)$", text, re.MULTILINE)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (raised[-1] if raised else lines[0] if lines else type(error).__name__)[:500]


def spark_score(spark, inputs: Sequence[str], out: str | os.PathLike, model: SavedModel,
                settings: ScoreSettings = ScoreSettings(), *, paths_from: str | None = None, prefix: str = "",
                split_bytes: int | None = None, overwrite: bool = False) -> SparkSummary:
    """Score every page of `inputs` (and of the path list `paths_from`) on `spark` into `out`: the tables of
    `segclf score` (pages/, blocks/, Parquet) and manifest.json. `split_bytes`: input bytes per task (default:
    auto_split_bytes)."""
    settings.check()
    if settings.output_format != "parquet":
        raise SegclfError("spark-score writes Parquet only")
    if split_bytes is not None and split_bytes < 1:
        raise SegclfError("split-bytes must be at least 1")
    _check_model(model)
    started = time.monotonic()
    listed = read_path_list(paths_from, prefix) if paths_from else []
    files = expand(inputs, listed)
    output = _OutputDir(spark, str(out))
    output.prepare(overwrite)
    sc = spark.sparkContext
    summary = SparkSummary(str(out), files=len(files), master=sc.master)
    try:
        return _run(spark, files, output, model, settings, split_bytes, overwrite, summary, started,
                    [os.path.abspath(p) if not is_uri(p) else p for p in inputs], paths_from)
    except SegclfError:
        raise
    except Exception as error:  # noqa: BLE001 - a failed Spark job: its Python or Java error, in one line
        from py4j.protocol import Py4JError

        if not isinstance(error, Py4JError) and "pyspark" not in type(error).__module__:
            raise
        raise SegclfError(f"the Spark job failed: {_first_line(error)}") from error


def _run(spark, files, output: _OutputDir, model, settings, split_bytes, overwrite, summary: SparkSummary,
         started: float, inputs: list[str], paths_from: str | None) -> SparkSummary:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    cores = sc.defaultParallelism
    looked = sc.parallelize(files, max(1, min(len(files), 4 * cores))).map(_look).collect() if files else []
    summary.input_bytes = sum(size for _, size, _ in looked)
    summary.split_bytes = split_bytes or auto_split_bytes(summary.input_bytes, cores)
    units = plan_units(looked, summary.split_bytes)
    tasks = pack(units, summary.split_bytes)
    summary.units, summary.tasks = len(units), len(tasks)
    summary.timings["plan"] = time.monotonic() - started

    model_ref = sc.broadcast(model)
    schema = spark_schema(settings)
    unit_rows = sc.parallelize(tasks or [[]], max(1, len(tasks))).flatMap(
        lambda task: [tuple(getattr(unit, name) for name, _ in UNIT_FIELDS) for unit in task])
    units_df = spark.createDataFrame(unit_rows, ", ".join(f"`{name}` {kind}" for name, kind in UNIT_FIELDS),
                                     verifySchema=False)
    work = partial(score_task, model_ref=model_ref, settings=settings, schema=_arrow_schema(spark, schema),
                   driver_version=__version__)
    rows = units_df.mapInArrow(work, schema).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        pages = rows.filter(F.col("_row") == "page").select(*page_schema(settings).names)
        blocks = rows.filter(F.col("_row") == "block").select(*BLOCK_SCHEMA.names)
        mode = "overwrite" if overwrite else "errorifexists"
        pages.write.mode(mode).option("compression", "zstd").parquet(output.table("pages"))
        summary.timings["pages"] = time.monotonic() - started
        blocks.write.mode(mode).option("compression", "zstd").parquet(output.table("blocks"))
        summary.timings["blocks"] = time.monotonic() - started
        _count(rows, pages, summary)
    finally:
        rows.unpersist()
        model_ref.destroy()
    summary.seconds = time.monotonic() - started
    manifest = {"format": "segclf-spark-score", "schema_version": SCHEMA_VERSION, "inputs": inputs,
                "paths_from": paths_from, "model": _model_identity(model), "settings": asdict(settings),
                "split_bytes": summary.split_bytes, "segclf": __version__, "spark": spark.version,
                "master": summary.master, "tasks": summary.tasks, "status": "complete",
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "seconds": round(summary.seconds, 1), "totals": summary.as_dict()}
    output.write_text(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return summary


def _count(rows, pages, summary: SparkSummary) -> None:
    """The run's totals, from the persisted rows."""
    from pyspark.sql import functions as F

    counts = pages.agg(F.count(F.lit(1)).alias("pages"),
                       F.sum(F.when(F.col("status") == "ok", 1).otherwise(0)).alias("ok"),
                       F.sum("blocks").alias("blocks"),
                       *(F.sum(f"n_{label}").alias(label) for label in LABELS)).first()
    summary.pages = summary.scored_now = counts["pages"]
    summary.ok = counts["ok"] or 0
    summary.errors = summary.pages - summary.ok
    summary.blocks = counts["blocks"] or 0
    summary.labels = Counter({label: counts[label] or 0 for label in LABELS})
    reason = F.split(F.col("error"), r":| \(| at byte| \d", 2).getItem(0)  # as scoring._reason_group cuts them
    summary.error_reasons = Counter({row["reason"]: row["count"] for row in pages.filter(
        F.col("error").isNotNull()).groupBy(reason.alias("reason")).count().collect()})
    skipped = rows.filter(F.col("_row") == _SKIPPED_ROW).select(
        F.explode(F.from_json("_skipped", "map<string,bigint>")))
    summary.skipped = Counter({row["key"]: row["n"] for row in skipped.groupBy("key").agg(
        F.sum("value").alias("n")).collect()})
    summary.shards = summary.tasks
