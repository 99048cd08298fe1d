"""Saving and loading models: the fitted estimator and its card (metadata) in one joblib file.

The card is also written beside the model as JSON, for people and for `segclf info`.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from segclf.errors import SegclfError
from segclf.io import atomic_output

FORMAT = "segclf-model"
FORMAT_VERSION = 9  # raised whenever the features or the fitted estimator change: older models cannot label
MODEL_ENV = "SEGCLF_MODEL"
# The shipped default lives in the repository's models/ folder (the package is installed editable from it).
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "default.joblib"


@dataclass
class SavedModel:
    estimator: Any
    card: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unknown"))


def default_model_path() -> Path:
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL_PATH)


def card_path(model_path: str | Path) -> Path:
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".joblib") + ".card.json")


def save_model(model: SavedModel, path: str | Path) -> None:
    bundle = {"format": FORMAT, "format_version": FORMAT_VERSION, "card": model.card, "estimator": model.estimator}
    with atomic_output(str(path), "wb") as stream:
        joblib.dump(bundle, stream, compress=3)
    with atomic_output(str(card_path(path))) as stream:
        stream.write(json.dumps(model.card, indent=2, ensure_ascii=False) + "\n")
    model.path = str(path)


def load_model(path: str | Path | None = None) -> SavedModel:
    """Load a model file, or the default (SEGCLF_MODEL, else models/default.joblib), with one-line errors."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        hint = " (train one with `make train` or `segclf train`)" if path == DEFAULT_MODEL_PATH else ""
        raise SegclfError(f"{path}: no such model file{hint}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            bundle = joblib.load(path)
    except InconsistentVersionWarning as warning:
        raise SegclfError(f"{path}: made with scikit-learn {warning.original_sklearn_version}, but this is "
                          f"{sklearn.__version__}; retrain it with `segclf train`") from None
    except Exception as error:  # joblib/pickle raise many kinds on a damaged file
        raise SegclfError(f"{path}: not a readable segclf model ({type(error).__name__}: {error})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise SegclfError(f"{path}: not a segclf model file")
    if bundle.get("format_version") != FORMAT_VERSION:
        raise SegclfError(f"{path}: model format {bundle.get('format_version')} is not supported by this segclf "
                          f"(format {FORMAT_VERSION}); retrain it with `segclf train`")
    return SavedModel(bundle["estimator"], bundle.get("card") or {}, str(path))
