from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from segclf import api
from segclf.cli._app import app, reports_errors
from segclf.cli._options import ModelOption


@app.command()
@reports_errors
def info(
    model: Optional[Path] = ModelOption,
    as_json: bool = typer.Option(False, "--json", help="Print the whole card as JSON."),
) -> None:
    """Show what a model is: its card (labels, corpus, scores, library versions, date)."""
    saved = api.load_model(model)
    card = saved.card
    if as_json:
        typer.echo(json.dumps(card, indent=2, ensure_ascii=False))
        return
    corpus = card.get("corpus", {})
    typer.echo(f"model      {saved.path}")
    typer.echo(f"version    {card.get('version', '?')}  (created {card.get('created', '?')}, seed {card.get('seed')})")
    typer.echo(f"labels     {', '.join(card.get('labels', []))}")
    if card.get("context_model"):
        regions = ", reads the pages' regions" if card.get("params", {}).get("regions") else ""
        typer.echo(f"stage two  {card['context_model']}{regions}")
    typer.echo(f"corpus     {corpus.get('documents', '?')} documents, {corpus.get('paragraphs', '?')} paragraphs, "
               f"sha256 {str(corpus.get('sha256', '?'))[:16]}")
    for name, result in card.get("scores", {}).items():
        if "macro_f1" in result:
            f1 = ", ".join(f"{k} {v:.3f}" for k, v in result.get("f1", {}).items())
            typer.echo(f"score      {name}: macro-F1 {result['macro_f1']:.3f} ({f1})")
        else:  # a table of yardsticks, each with its own metrics
            for part, metrics in result.items():
                typer.echo(f"score      {part}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    typer.echo("libraries  " + ", ".join(f"{k} {v}" for k, v in card.get("libraries", {}).items()))
