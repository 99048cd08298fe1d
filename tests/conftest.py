"""Fixtures shared by the tests: a small model trained on a few hand-written documents, and the shared pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from segclf import api
from segclf.documents import Document, Paragraph

# The real crawled pages and evaluation sets live beside the repository, in ../shared; tests using them skip without.
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"

_DOCUMENTS = [
    [("Home", "boilerplate"), ("World", "boilerplate"),
     ("Police said on Monday that the suspect had fled the city.", "reported"),
     ("“We will find him,” the chief said.", "quote"), ("A photo of the scene (AP Photo/John Doe)", "caption"),
     ("I think the police should have acted much sooner.", "opinion"),
     ("© 2024 Site. All rights reserved.", "boilerplate")],
    [("Sign in", "boilerplate"), ("The council voted to raise taxes by 2 percent, officials said.", "reported"),
     ("“This is a fair budget,” the mayor said.", "quote"),
     ("The mayor speaks to reporters. Photo: Jane Roe", "caption"),
     ("We believe this budget is a mistake and voters should reject it.", "opinion"),
     ("Subscribe to our newsletter", "boilerplate")],
    [("Menu", "boilerplate"), ("The company reported a loss of $3 million in the quarter.", "reported"),
     ("“Sales were weak,” the chief executive told analysts.", "quote"),
     ("The headquarters in 2019 (Reuters)", "caption"), ("Frankly, the board should resign.", "opinion"),
     ("Share this article", "boilerplate")],
]


@pytest.fixture(scope="session")
def tiny_model() -> api.SavedModel:
    documents = [Document(f"doc-{i}", [Paragraph(text, label) for text, label in items])
                 for i, items in enumerate(_DOCUMENTS)]
    model, _ = api.train(documents, seed=0, cv=0, word_max_features=5000, char_max_features=5000)
    return model


@pytest.fixture(scope="session")
def tiny_model_path(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.joblib"
    api.save_model(tiny_model, path)
    return path


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "pages" / "aeb.warc.gz").is_file():
        pytest.skip("../shared (real crawled pages) is not here")
    return SHARED


REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "labeled"


@pytest.fixture(scope="session")
def corpus_sample() -> list[Document]:
    """Forty documents of the team's corpus from four outlets: enough to learn the five labels, quick to fit."""
    from segclf.io import read_documents

    files = sorted((CORPUS / "train").glob("*.jsonl"))[:4]
    documents = read_documents([str(f) for f in files], require_labels=True)
    by_outlet: dict[str, list[Document]] = {}
    for doc in documents:
        by_outlet.setdefault(doc.fields["outlet"], []).append(doc)
    return [doc for docs in by_outlet.values() for doc in docs[:10]]


@pytest.fixture(scope="session")
def corpus_model(corpus_sample, tmp_path_factory) -> Path:
    """A model trained on `corpus_sample`, saved: the stand-in for the shipped default in CLI tests."""
    model, _ = api.train(corpus_sample, seed=0, cv=0)
    path = tmp_path_factory.mktemp("model") / "sample.joblib"
    api.save_model(model, path)
    return path
