from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import FormatOption, ModelOption
from segclf.errors import SegclfError
from segclf.explain import explain_paragraph, top_features
from segclf.io import iter_documents


@app.command()
@reports_errors
def explain(
    input: Optional[str] = typer.Argument(None, help="A document file; without it, show each label's top features."),
    paragraph: int = typer.Option(0, "--paragraph", "-p", help="Which paragraph (0-based) to explain."),
    doc: Optional[str] = typer.Option(None, "--doc", help="Which document of the file (its id; default the first)."),
    top: int = typer.Option(10, "--top", "-n", help="How many features to show."),
    model: Optional[Path] = ModelOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    fmt: str = FormatOption,
) -> None:
    """Show why a paragraph got its label, or the strongest features of each label."""
    estimator = api.load_model(model).estimator
    if input is None:
        result = {label: [asdict(p) for p in pushes] for label, pushes in top_features(estimator, top).items()}
        if as_json:
            typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        for label, pushes in ({} if as_json else result).items():
            typer.echo(f"{label}: " + ", ".join(f"{p['feature']} ({p['weight']:+.2f})" for p in pushes))
        return
    document = next((d for d in iter_documents(input, fmt) if doc is None or d.id == doc), None)
    if document is None:
        raise SegclfError(f"{input}: no document with id {doc!r}")
    try:
        result = explain_paragraph(estimator, document, paragraph, top)
    except IndexError as error:
        raise SegclfError(f"{input}: {error}") from None
    if as_json:
        result["pushes"] = {stage: [asdict(p) for p in pushes] for stage, pushes in result["pushes"].items()}
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(result["scores"].items(), key=lambda kv: -kv[1]))
    typer.echo(f"{result['document']} paragraph {paragraph}: {result['label']}  ({scores})")
    typer.echo(f"  {result['text'][:200]}")
    for stage, pushes in result["pushes"].items():
        typer.echo(f"{stage}:")
        for p in pushes:
            typer.echo(f"  {p.weight:+7.2f}  {p.feature}")
