from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import DataArgument, FormatOption
from segclf.io import read_documents
from segclf.model import CONTEXT_MODELS
from segclf.modelfile import DEFAULT_MODEL_PATH

# typer checks the value against the estimator's own list of stage twos.
ContextModel = Enum("ContextModel", {name: name for name in CONTEXT_MODELS}, type=str)


@app.command()
@reports_errors
def train(
    data: List[str] = DataArgument,
    output: Path = typer.Option(DEFAULT_MODEL_PATH, "--output", "-o", help="Where to write the model (.joblib)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same data and seed give the same model."),
    cv: int = typer.Option(5, "--cv", help="Folds of outlet-grouped cross-validation to report first (0: none)."),
    jobs: int = typer.Option(-1, "--jobs", "-j", help="Processes for the model's inner fits (-1: all cores)."),
    structure: bool = typer.Option(True, "--structure/--no-structure",
                                   help="Learn from the HTML structure of labeled pages (tag, ancestors, links); "
                                        "--no-structure leaves those out."),
    regions: bool = typer.Option(True, "--regions/--no-regions",
                                 help="Let stage two see which blocks of an HTML page share an element (an article "
                                      "body, a teaser card) and how much of that region is content."),
    context_model: ContextModel = typer.Option("auto", "--context-model",
                                      help="Stage two (neighbours and page): trees (gradient boosting, the more "
                                           "accurate on 5,000 paragraphs and more), logistic (labels faster), or "
                                           "auto (trees from 5,000 training paragraphs)."),
    fmt: str = FormatOption,
) -> None:
    """Train a model on labeled corpora and write it with its model card beside it."""
    documents = read_documents(data, fmt, require_labels=True)
    typer.echo(f"training on {len(documents)} documents, {sum(len(d.paragraphs) for d in documents)} paragraphs",
               err=True)
    model, report = api.train(documents, seed=seed, cv=cv, sources=data, n_jobs=jobs, structure=structure,
                              regions=regions, context_model=context_model.value)
    if report is not None:
        typer.echo(f"cross-validation ({cv} folds, grouped by outlet or document):\n{report.format()}\n")
    api.save_model(model, output)
    typer.echo(f"wrote {output} and {output.name.removesuffix('.joblib')}.card.json")
