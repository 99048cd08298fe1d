from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer

from segclf.cli._app import app, reports_errors
from segclf.cli._options import MinProbabilityOption, OnlyOption, label_list
from segclf.errors import SegclfError
from segclf.html import MAX_BLOCKS, MAX_PAGE_BYTES
from segclf.scoring import ScoreSettings

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


def _bytes(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise SegclfError(f"--split-bytes: {text!r} is not a size (e.g. 64m, 512k, 1g or a number of bytes)")
    return int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[match.group(2).lower()]


def _settings(pairs: List[str]) -> dict[str, str]:
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SegclfError(f"--conf: {pair!r} is not KEY=VALUE")
        conf[key.strip()] = value
    return conf


@app.command("spark-score")
@reports_errors
def spark_score(
    inputs: Optional[List[str]] = typer.Argument(None, help="WARC files (.warc, .warc.gz), HTML files, folders of "
                                                            "them and JSONL documents: local paths (on a cluster, "
                                                            "shared by every node) or URIs (hdfs://, s3://, s3a://, "
                                                            "gs://, file://)."),
    out: str = typer.Option(..., "-o", "--out", help="Output directory or URI: pages/ and blocks/ (Parquet) and "
                                                     "manifest.json."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model file: a local path, a URI, or the name "
                                                                    "of a file shipped with spark-submit --files "
                                                                    "(default: $SEGCLF_MODEL or "
                                                                    "models/default.joblib)."),
    paths_from: Optional[str] = typer.Option(None, "--paths-from", help="A file listing more inputs, one path or "
                                                                        "URI a line, gzipped or not (e.g. Common "
                                                                        "Crawl's warc.paths.gz)."),
    prefix: str = typer.Option("", "--prefix", help="Put before every line of --paths-from (e.g. "
                                                    "s3://commoncrawl/)."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master: local[N], spark://HOST:7077, yarn, "
                                                                "k8s://... (default: spark-submit's, else "
                                                                "local[*])."),
    conf: List[str] = typer.Option([], "--conf", help="A Spark setting, KEY=VALUE (repeatable)."),
    only: Optional[str] = OnlyOption,
    min_probability: Optional[float] = MinProbabilityOption,
    keep_hidden: bool = typer.Option(False, "--keep-hidden", help="Keep elements hidden with CSS or `hidden`."),
    max_page_bytes: int = typer.Option(MAX_PAGE_BYTES, help="Pages larger than this are error rows."),
    max_blocks: int = typer.Option(MAX_BLOCKS, help="Pages with more blocks than this are error rows."),
    batch_pages: int = typer.Option(64, help="Pages labeled together in a task."),
    split_bytes: Optional[str] = typer.Option(None, "--split-bytes", help="Input bytes per task, e.g. 64m (default: "
                                                                          "the input over 3 tasks per core, between "
                                                                          "1m and 128m); bigger .warc.gz files are "
                                                                          "split."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier run in the output directory."),
) -> None:
    """`segclf score` on Apache Spark: the same page and block rows (Parquet), from a cluster or local[N]."""
    from segclf import spark

    settings = ScoreSettings(batch_pages=batch_pages, max_page_bytes=max_page_bytes, max_blocks=max_blocks,
                             keep_hidden=keep_hidden,
                             only=label_list(only),
                             min_probability=min_probability)
    settings.check()
    split = _bytes(split_bytes) if split_bytes is not None else None
    spark_conf = _settings(conf)
    if not inputs and not paths_from:
        raise SegclfError("no inputs given (name files or folders, or --paths-from a list of them)")
    # A model file that is here is checked before Spark starts; a name shipped with --files is found once it has.
    here = model is None or spark.is_uri(model) or Path(model).exists()
    saved = spark.load_job_model(model) if here else None
    session, started = spark.start_session(master, spark_conf)
    try:
        saved = saved or spark.load_job_model(model)
        summary = spark.spark_score(session, inputs or [], out, saved, settings, paths_from=paths_from,
                                    prefix=prefix, split_bytes=split, overwrite=overwrite)
    finally:
        if started:
            session.stop()
    typer.echo(summary.format())
