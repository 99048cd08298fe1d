from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import MinProbabilityOption, ModelOption, OnlyOption, label_list
from segclf.html import MAX_BLOCKS, MAX_PAGE_BYTES
from segclf.scoring import ScoreSettings, score as run_score


class _Bar:
    """A rich progress bar on stderr: pages, pages/s, and an ETA from the input bytes read."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("[bold]scoring"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TextColumn("{task.fields[pages]:,} pages  {task.fields[rate]:.1f} pages/s"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=True)
        self.task = None

    def start(self, total_bytes: int) -> None:
        import time
        self.started = time.monotonic()
        self.bar.start()
        self.task = self.bar.add_task("score", total=max(total_bytes, 1), pages=0, rate=0.0)

    def update(self, pages: int, bytes_done: int) -> None:
        import time
        rate = pages / max(time.monotonic() - self.started, 1e-9)
        self.bar.update(self.task, completed=bytes_done, pages=pages, rate=rate)

    def stop(self) -> None:
        self.bar.stop()


@app.command()
@reports_errors
def score(
    inputs: List[str] = typer.Argument(..., help="HTML files, directories of them, WARC files (.warc, .warc.gz) "
                                                 "and JSONL documents."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (created; rerun the same command to "
                                                      "resume an interrupted run)."),
    model: Optional[Path] = ModelOption,
    output_format: str = typer.Option("parquet", "--format", help="Output tables: parquet or jsonl."),
    only: Optional[str] = OnlyOption,
    min_probability: Optional[float] = MinProbabilityOption,
    workers: int = typer.Option(0, "--workers", "-w", help="Worker processes (default: all cores)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier run in the output directory."),
    keep_hidden: bool = typer.Option(False, "--keep-hidden", help="Keep elements hidden with CSS or `hidden`."),
    max_page_bytes: int = typer.Option(MAX_PAGE_BYTES, help="Pages larger than this are error rows."),
    max_blocks: int = typer.Option(MAX_BLOCKS, help="Pages with more blocks than this are error rows."),
    batch_pages: int = typer.Option(64, help="Pages per shard."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (there is none when stderr is not "
                                                            "a terminal)."),
) -> None:
    """Label every block of crawled pages; write one row per page and one per block (Parquet or JSONL)."""
    settings = ScoreSettings(output_format=output_format, batch_pages=batch_pages, max_page_bytes=max_page_bytes,
                             max_blocks=max_blocks, keep_hidden=keep_hidden,
                             only=label_list(only),
                             min_probability=min_probability)
    settings.check()
    saved = api.load_model(model)
    bar = _Bar() if sys.stderr.isatty() and not quiet else None
    try:
        summary = run_score(inputs, out, saved, settings, workers=workers or None, progress=bar,
                            overwrite=overwrite)
    finally:
        if bar is not None:
            bar.stop()
    typer.echo(summary.format())
