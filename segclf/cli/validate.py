from __future__ import annotations

from typing import List

import typer

from segclf.cli._app import app, reports_errors
from segclf.cli._options import DataArgument, FormatOption
from segclf.corpus import check_corpus, check_minimums
from segclf.errors import SegclfError
from segclf.io import read_documents


@app.command()
@reports_errors
def validate(
    data: List[str] = DataArgument,
    fmt: str = FormatOption,
    min_documents: int = typer.Option(0, help="Fail with fewer documents."),
    min_paragraphs: int = typer.Option(0, help="Fail with fewer paragraphs."),
    min_per_label: int = typer.Option(0, help="Fail when any label has fewer paragraphs."),
    min_outlets: int = typer.Option(0, help="Fail with fewer distinct `outlet` values."),
    max_repeated: float = typer.Option(0.01, help="Fail when more of the non-boilerplate paragraphs repeat."),
) -> None:
    """Check labeled corpora: schema, labels, unique ids, repeated paragraphs, and counts against minimums."""
    stats = check_corpus(read_documents(data, fmt, require_labels=True), max_repeated_share=max_repeated)
    typer.echo(stats.format())
    missing = check_minimums(stats, min_documents, min_paragraphs, min_per_label, min_outlets)
    if missing:
        raise SegclfError("corpus below its minimums: " + "; ".join(missing))
    typer.echo("ok")
