"""Every command through the CLI, with the formats and the bad inputs users hit."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from segclf.cli import app
from tests.conftest import CORPUS, REPO, SHARED

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def labeled(tmp_path, corpus_sample):
    """A small labeled JSONL corpus file (documents from the team's corpus)."""
    from segclf.io import atomic_output, write_jsonl

    path = tmp_path / "labeled.jsonl"
    with atomic_output(str(path)) as stream:
        write_jsonl(corpus_sample[:6], stream)
    return path


def test_train_writes_model_and_card(tmp_path, corpus_sample, labeled):
    out = tmp_path / "m.joblib"
    result = run("train", labeled, "-o", out, "--cv", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and out.is_file()
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["seed"] == 1 and card["corpus"]["documents"] == 6
    assert set(card["labels"]) <= {"reported", "quote", "caption", "boilerplate", "opinion"}
    assert "cross_validation" in card["scores"] and card["libraries"]["scikit-learn"]


def test_train_reads_csv(tmp_path):
    rows = ["doc_id,text,label"]
    for d in range(4):
        rows += [f"d{d},Home,boilerplate", f'd{d},"The council met on Monday, officials said.",reported',
                 f'd{d},"“We are ready,” she said.",quote']
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    result = run("train", tmp_path / "c.csv", "-o", tmp_path / "c.joblib", "--cv", 0, "--context-model", "logistic")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "c.card.json").read_text())
    assert card["params"]["context_model"] == "logistic" and card["context_model"] == "logistic"
    bad = run("train", tmp_path / "c.csv", "-o", tmp_path / "d.joblib", "--cv", 0, "--context-model", "forest")
    assert bad.exit_code == 2 and "Invalid value for '--context-model'" in bad.output and "'forest'" in bad.output


def test_train_on_labeled_html_pages(tmp_path):
    page = ('<html data-segclf-label="boilerplate"><body><nav><a href="/">Home</a></nav>'
            '<div data-segclf-label="reported"><p>The council met on Monday, officials said.</p>'
            '<p data-segclf-label="quote">“We are ready,” she said.</p></div></body></html>')
    for outlet in ("one", "two"):
        (tmp_path / outlet).mkdir()
        for n in range(2):
            (tmp_path / outlet / f"p{n}.html").write_text(page, encoding="utf-8")
    pages = sorted(str(p) for p in tmp_path.glob("*/*.html"))
    result = run("train", *pages, "-o", tmp_path / "h.joblib", "--cv", 2, "--no-structure", "--no-regions")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "h.card.json").read_text())
    assert card["params"]["structure"] is False and card["params"]["regions"] is False
    assert card["corpus"]["documents"] == 4


def test_evaluate_text_json_and_plot(tmp_path, corpus_model, labeled):
    result = run("evaluate", labeled, "--model", corpus_model)
    assert result.exit_code == 0 and "macro-F1" in result.output and "confusion" in result.output
    result = run("evaluate", labeled, "--model", corpus_model, "--json", "--confusion", tmp_path / "cm.png")
    report = json.loads(result.output)
    assert 0 <= report["macro_f1"] <= 1 and report["n"] > 0
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_record_stores_scores_in_card(tmp_path, corpus_model, labeled):
    import shutil

    model = tmp_path / "copy.joblib"
    shutil.copy(corpus_model, model)
    assert run("evaluate", labeled, "--model", model, "--record", "mine").exit_code == 0
    info = run("info", "--model", model, "--json")
    assert "mine" in json.loads(info.output)["scores"]


def test_predict_jsonl_keeps_documents_and_fields(tmp_path, corpus_model, labeled):
    result = run("predict", labeled, "--model", corpus_model)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    source = [json.loads(line) for line in labeled.read_text().splitlines()]
    assert [d["id"] for d in out] == [d["id"] for d in source]
    for got, want in zip(out, source):
        assert got["outlet"] == want["outlet"] and got["url"] == want["url"]
        assert [p["text"] for p in got["paragraphs"]] == [p["text"] for p in want["paragraphs"]]
        for p, q in zip(got["paragraphs"], want["paragraphs"]):
            assert p["label"] in p["scores"] and abs(sum(p["scores"].values()) - 1) < 0.01
            assert p["gold_label"] == q["label"]


def test_predict_plain_text_from_stdin_as_table_and_csv(corpus_model, tmp_path):
    text = "Council approves budget\n\nThe council voted 7-2 on Monday, officials said.\n\n“We are ready,” she said.\n"
    result = run("predict", "--model", corpus_model, "--output", "table", input=text)
    assert result.exit_code == 0 and "Council approves budget" in result.output
    result = run("predict", "-", "--model", corpus_model, "--output", "csv", "-o", tmp_path / "o.csv", input=text)
    assert result.exit_code == 0
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0].startswith("doc_id,index,label") and len(lines) == 4


def test_info(corpus_model):
    result = run("info", "--model", corpus_model)
    assert result.exit_code == 0 and "labels" in result.output and "corpus" in result.output
    assert "stage two  logistic, reads the pages' regions" in result.output  # under TREES_FROM paragraphs


def test_validate(tmp_path, labeled):
    assert run("validate", labeled).exit_code == 0
    result = run("validate", labeled, "--min-documents", 1000)
    assert result.exit_code == 1 and "fewer than 1000" in result.output
    dup = tmp_path / "dup.jsonl"
    copy = json.loads(labeled.read_text().splitlines()[0]) | {"id": "another-id"}  # same text, another document
    dup.write_text(labeled.read_text() + json.dumps(copy) + "\n")
    result = run("validate", dup)
    assert result.exit_code == 1 and "repeated" in result.output


def test_short_template_lines_may_repeat():
    from segclf.corpus import check_corpus
    from segclf.documents import Document, Paragraph

    page = [("3 of 12", "caption"), ("Video", "caption"), ("The council voted to delay the dam.", "reported")]
    docs = [Document(f"d{i}", [Paragraph(t, label) for t, label in page]) for i in range(2)]
    assert check_corpus(docs, max_repeated_share=1.0).repeated == 1  # the sentence, not the counter or "Video"


def test_the_team_corpus_meets_its_minimums():
    files = sorted(CORPUS.glob("*/*.jsonl"))
    result = run("validate", *files, "--min-documents", 400, "--min-paragraphs", 12000, "--min-per-label", 800,
                 "--min-outlets", 30)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "paragraphs": [{"text": "x", "label": "rumour"}]}\n', "bad.jsonl:1: paragraph 0: unknown label"),
    ('{"id": "a", "paragraphs": [}\n', "bad.jsonl:1: malformed JSON"),
    ("", "bad.jsonl: empty file"),
])
def test_bad_input_gives_one_line_error_and_no_output(tmp_path, corpus_model, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    out = tmp_path / "never.jsonl"
    for args in (["evaluate", bad, "--model", corpus_model], ["train", bad, "-o", out]):
        result = run(*args)
        assert result.exit_code == 1 and message in result.output
        assert result.output.count("\n") == 1  # exactly one line
    assert not out.exists()


def test_predict_error_midway_leaves_no_output_file(tmp_path, corpus_model, labeled):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(labeled.read_text() + "{oops\n")
    out = tmp_path / "out.jsonl"
    result = run("predict", bad, "--model", corpus_model, "-o", out)
    assert result.exit_code == 1 and f"bad.jsonl:{len(labeled.read_text().splitlines()) + 1}" in result.output
    assert not out.exists() and list(tmp_path.glob(".out.jsonl*")) == []


def test_non_utf8_input(tmp_path, corpus_model):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("Caf\xe9 opens\n\nIt is good.\n".encode("latin-1"))
    result = run("predict", bad, "--model", corpus_model)
    assert result.exit_code == 1 and "latin.txt:1: not valid UTF-8" in result.output


def test_missing_and_corrupt_model(tmp_path, labeled):
    result = run("predict", labeled, "--model", tmp_path / "none.joblib")
    assert result.exit_code == 1 and "none.joblib: no such model file" in result.output
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a model at all")
    result = run("info", "--model", junk)
    assert result.exit_code == 1 and "junk.joblib: not a readable segclf model" in result.output


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "segclf.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "predict" in result.stdout


def test_shipped_model_labels_the_seed_page():
    seed = SHARED / "examples" / "seed.jsonl"
    if not seed.is_file():
        pytest.skip("../shared is not here")
    result = run("predict", "--format", "jsonl", seed)
    assert result.exit_code == 0, result.output
    (doc,) = [json.loads(line) for line in result.output.splitlines()]
    source = json.loads(seed.read_text())
    assert [p["text"] for p in doc["paragraphs"]] == [p["text"] for p in source["paragraphs"]]
    assert len(doc["paragraphs"]) == 33 and all(p["label"] and p["scores"] for p in doc["paragraphs"])


@pytest.mark.parametrize("model", ["default", "fast"])
def test_demo_page_with_shipped_models(model):
    result = run("predict", REPO / "examples" / "republished-with-comment.txt", "--output", "table",
                 "--model", REPO / "models" / f"{model}.joblib")
    assert result.exit_code == 0 and "opinion" in result.output and "reported" in result.output
    card = json.loads((REPO / "models" / f"{model}.card.json").read_text())
    assert card["context_model"] == {"default": "trees", "fast": "logistic"}[model]


def test_explain_a_paragraph_and_the_labels(tmp_path, corpus_model, labeled):
    result = run("explain", labeled, "--paragraph", 2, "--model", corpus_model, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["paragraph"] == 2 and report["label"] in report["scores"]
    assert report["label"] == max(report["scores"], key=report["scores"].get)
    predicted = json.loads(run("predict", labeled, "--model", corpus_model).output.splitlines()[0])
    assert report["scores"] == pytest.approx(predicted["paragraphs"][2]["scores"], abs=1e-4)  # the same numbers
    pushes = report["pushes"]["words and layout (stage one)"]
    assert pushes and all(p["feature"] for p in pushes)
    result = run("explain", "--model", corpus_model, "--top", 3)
    assert result.exit_code == 0 and result.output.count("\n") == len(json.loads(
        run("explain", "--model", corpus_model, "--json").output))
    result = run("explain", labeled, "--paragraph", 10_000, "--model", corpus_model)
    assert result.exit_code == 1 and "has no paragraph 10000" in result.output
