from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import DataArgument, FormatOption, ModelOption
from segclf.evaluation import plot_confusion
from segclf.io import atomic_output, read_documents


@app.command()
@reports_errors
def evaluate(
    data: List[str] = DataArgument,
    model: Optional[Path] = ModelOption,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    confusion: Optional[Path] = typer.Option(None, "--confusion", help="Also write the confusion matrix as PNG."),
    record: Optional[str] = typer.Option(None, "--record", help="Store the scores in the model's card under this name."),
    fmt: str = FormatOption,
) -> None:
    """Score a model on labeled corpora: per-label precision, recall, F1, macro-F1, accuracy, confusion."""
    documents = read_documents(data, fmt, require_labels=True)
    saved = api.load_model(model)
    report = api.evaluate(documents, saved)
    if record:
        api.record_scores(saved, record, report, data)
    if confusion is not None:
        with atomic_output(str(confusion), "wb") as stream:
            plot_confusion(report, stream, title=", ".join(Path(d).name for d in data))
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.format())
