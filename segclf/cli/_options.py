"""Options shared by several commands."""

from __future__ import annotations

from typing import List, Optional

import typer

ModelOption = typer.Option(None, "--model", "-m", help="Model file (default: $SEGCLF_MODEL or models/default.joblib).")
DataArgument = typer.Argument(..., help="Labeled corpora: JSONL documents, CSV/TSV with doc_id,text,label, or "
                                             "labeled HTML pages.")
FormatOption = typer.Option("auto", "--format", "-f", help="Input format: auto, jsonl, csv, tsv, text or html.")
# segclf score and segclf spark-score: which blocks to keep.
OnlyOption = typer.Option(None, "--only", help="Keep only blocks with these labels (comma-separated, e.g. "
                                               "reported,quote) and write each page's text.")
MinProbabilityOption = typer.Option(None, "--min-probability",
                                    help="With --only: keep a block when those labels' probabilities sum to at least "
                                         "this, not when its label is one of them; higher keeps surer text.")


def label_list(text: str | None) -> tuple[str, ...]:
    """"reported, quote" -> ("reported", "quote")."""
    return tuple(label.strip() for label in text.split(",") if label.strip()) if text else ()


__all__ = ["ModelOption", "DataArgument", "FormatOption", "OnlyOption", "MinProbabilityOption", "label_list",
           "List", "Optional"]
