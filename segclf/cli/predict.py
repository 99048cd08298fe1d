from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import List, Optional

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import ModelOption
from segclf.errors import SegclfError
from segclf.io import STDIN, WRITERS, atomic_output, iter_documents
from segclf.runtime import settle_for_bulk_labeling

BATCH = 512  # documents labeled at a time, so memory stays flat on large files


@app.command()
@reports_errors
def predict(
    inputs: Optional[List[str]] = typer.Argument(None, help="Files to label; '-' or nothing reads standard input."),
    fmt: str = typer.Option("auto", "--format", "-f", help="Input format: auto, jsonl, csv, tsv, text or html."),
    model: Optional[Path] = ModelOption,
    output_format: str = typer.Option("jsonl", "--output", help="Output format: jsonl, csv or table."),
    out: Optional[str] = typer.Option(None, "-o", "--out", help="Write to this file (atomically) instead of stdout."),
) -> None:
    """Label every paragraph of documents: JSONL in gives the same records out, each paragraph with label and scores."""
    if output_format not in WRITERS:
        raise SegclfError(f"unknown output format {output_format!r} (expected one of {', '.join(WRITERS)})")
    saved = api.load_model(model)
    settle_for_bulk_labeling()
    write = WRITERS[output_format]
    first = True
    with atomic_output(out) as stream:
        for path in inputs or [STDIN]:
            documents = iter_documents(path, fmt)
            while batch := list(islice(documents, BATCH)):
                write(api.label_documents(batch, saved), stream, header=first)
                first = False
