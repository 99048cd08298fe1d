"""The `segclf` command line: one module per command, each a thin layer over the Python API."""

from segclf.cli._app import app
from segclf.cli import blocks, evaluate, explain, info, predict, score, spark_score, train, validate  # noqa: F401  (importing registers commands)

__all__ = ["app"]


def main() -> None:
    app()
