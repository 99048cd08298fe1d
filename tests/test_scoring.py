"""The batch run: output tables, bad pages as error rows, resuming after a kill, and the two shared inputs agreeing."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from segclf import LABELS, SegclfError
from segclf.cli import app
from segclf.scoring import BLOCK_SCHEMA, PAGE_SCHEMA, ScoreSettings, read_table, score


def page(n: int, paragraphs: int = 3) -> bytes:
    body = "".join(f"<p>Police said on day {n} that event {k} happened in the city.</p>" for k in range(paragraphs))
    return (f'<html><head><title>Page {n}</title></head><body><nav><a href="/">Home</a></nav><article>{body}'
            f"<p>“We will act,” the mayor said on day {n}.</p></article><footer>© Site</footer></body></html>"
            ).encode()


def make_pages(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        path = folder / f"page-{n:04d}.html"
        path.write_bytes(page(n))
        paths.append(path)
    return paths


def pages_of(out: Path):
    return read_table(out, "pages").to_pylist()


def blocks_of(out: Path):
    return read_table(out, "blocks").to_pylist()


def test_scores_a_directory_into_page_and_block_tables(tmp_path, tiny_model):
    make_pages(tmp_path / "in" / "sub", 5)
    (tmp_path / "in" / "notes.txt").write_text("not a page")
    summary = score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(batch_pages=2), workers=1)
    assert (summary.pages, summary.ok, summary.errors, summary.shards) == (5, 5, 0, 3)
    assert summary.skipped == {"file of another kind (.txt)": 1}
    assert pq.read_schema(next((tmp_path / "out" / "pages").glob("*.parquet"))).names == PAGE_SCHEMA.names
    assert pq.read_schema(next((tmp_path / "out" / "blocks").glob("*.parquet"))).names == BLOCK_SCHEMA.names
    pages, blocks = pages_of(tmp_path / "out"), blocks_of(tmp_path / "out")
    assert len(pages) == 5 and all(p["status"] == "ok" and p["error"] is None for p in pages)
    first = pages[0]
    assert first["page_id"].endswith("page-0000.html") and first["blocks"] == 7
    assert sum(first[f"n_{label}"] for label in LABELS) == first["blocks"]
    assert first["model_version"] == tiny_model.version and first["encoding"] == "utf-8"
    assert len(blocks) == sum(p["blocks"] for p in pages) == summary.blocks
    block = blocks[2]
    assert block["page_id"] == first["page_id"] and block["block_index"] == 2 and block["tag"] == "p"
    assert block["label"] in LABELS
    assert sum(block[f"p_{label}"] for label in LABELS) == pytest.approx(1.0, abs=1e-4)
    assert block["label"] == max(LABELS, key=lambda label: block[f"p_{label}"])
    assert blocks[1]["text"] == "Home" and blocks[1]["cues"] == ["a", "nav"] and blocks[1]["link_density"] == 1.0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["totals"]["pages"] == 5


def test_jsonl_output_and_jsonl_documents_in(tmp_path, tiny_model):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "url": "https://x.example/1",
                                "paragraphs": ["Police said on Monday.", "“We act,” she said."]}) + "\n"
                    + "{not json\n" + json.dumps({"id": "d2", "paragraphs": []}) + "\n")
    summary = score([str(docs)], tmp_path / "out", tiny_model, ScoreSettings(output_format="jsonl"), workers=1)
    assert (summary.pages, summary.ok, summary.errors) == (3, 1, 2)
    lines = [json.loads(line) for line in (tmp_path / "out" / "pages" / "part-000000.jsonl").open()]
    assert [(p["page_id"], p["status"]) for p in lines] == [("d1", "ok"), (f"{docs}:2", "error"), ("d2", "error")]
    assert lines[0]["url"] == "https://x.example/1"
    assert "malformed JSON" in lines[1]["error"] and "no paragraphs" in lines[2]["error"]
    blocks = [json.loads(line) for line in (tmp_path / "out" / "blocks" / "part-000000.jsonl").open()]
    assert [b["text"] for b in blocks] == ["Police said on Monday.", "“We act,” she said."]
    assert blocks[0]["tag"] is None  # plain paragraphs have no structure


def test_only_keeps_those_blocks_and_writes_the_page_text(tmp_path, tiny_model):
    make_pages(tmp_path / "in", 3)
    keep = ("reported", "quote")
    score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(only=keep), workers=1)
    pages, blocks = pages_of(tmp_path / "out"), blocks_of(tmp_path / "out")
    assert blocks and {b["label"] for b in blocks} <= set(keep)
    for p in pages:
        kept = [b["text"] for b in blocks if b["page_id"] == p["page_id"]]
        assert p["text"] == "\n".join(kept)
        assert p["n_reported"] + p["n_quote"] == len(kept)  # the counts still cover every block of the page


def test_min_probability_keeps_blocks_by_the_kept_labels_summed_probability(tmp_path, tiny_model):
    make_pages(tmp_path / "in", 3)
    keep = ("reported", "quote")
    score([str(tmp_path / "in")], tmp_path / "all", tiny_model, ScoreSettings(), workers=1)
    every = blocks_of(tmp_path / "all")
    chance = {(b["page_id"], b["block_index"]): b["p_reported"] + b["p_quote"] for b in every}
    values = sorted(set(chance.values()))
    middle = len(values) // 2  # halfway between two of this run's values: some kept, some not, none on the line
    threshold = (values[middle - 1] + values[middle]) / 2
    score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(only=keep, min_probability=threshold),
          workers=1)
    kept = {(b["page_id"], b["block_index"]) for b in blocks_of(tmp_path / "out")}
    assert kept == {key for key, p in chance.items() if p >= threshold}
    assert 0 < len(kept) < len(every)
    for p in pages_of(tmp_path / "out"):
        assert p["text"] == "\n".join(b["text"] for b in blocks_of(tmp_path / "out") if b["page_id"] == p["page_id"])
    everything = ScoreSettings(only=LABELS, min_probability=1.0)  # probabilities summing to one keep every block
    score([str(tmp_path / "in")], tmp_path / "one", tiny_model, everything, workers=1)
    assert len(blocks_of(tmp_path / "one")) == len(every)


def test_bad_settings_are_refused(tmp_path, tiny_model):
    with pytest.raises(SegclfError, match="unknown label in --only: news"):
        score([str(tmp_path)], tmp_path / "out", tiny_model, ScoreSettings(only=("news",)))
    with pytest.raises(SegclfError, match="--min-probability needs --only"):
        score([str(tmp_path)], tmp_path / "out", tiny_model, ScoreSettings(min_probability=0.5))
    with pytest.raises(SegclfError, match="above 0 and at most 1, not 1.5"):
        score([str(tmp_path)], tmp_path / "out", tiny_model, ScoreSettings(only=("quote",), min_probability=1.5))
    with pytest.raises(SegclfError, match="no such file"):
        score([str(tmp_path / "missing")], tmp_path / "out", tiny_model)


# -- bad pages -------------------------------------------------------------------------------------------------

def _warc_with_damage(path: Path) -> None:
    """Two good pages around a record that is not a WARC record, and a crawler-truncated one."""
    def record(url, body, **extra):
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                      warc_headers_dict=extra))
        return buffer.getvalue()
    path.write_bytes(record("https://w.example/1", page(101)) + gzip.compress(b"NOT A WARC RECORD\r\n\r\n")
                     + record("https://w.example/2", page(102), **{"WARC-Truncated": "length"})
                     + record("https://w.example/3", page(103)))


def test_every_kind_of_bad_page_is_an_error_row_and_the_rest_is_scored(tmp_path, tiny_model):
    folder = tmp_path / "in"
    make_pages(folder, 4)
    bad = {
        "empty.html": b"",
        "binary.html": b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
        "truncated.html.gz": gzip.compress(page(50) * 20)[:-200],
        "not-html.html": json.dumps({"data": [1, 2, 3]}).encode(),
        "wrong-encoding.html": b'<html><head><meta charset="utf-8"></head><body><p>'
                               + b"\x81\x8d\x8f\x90\x9d\xff" * 300 + b"</p></body></html>",
        "enormous.html": b"<html><body>" + b"<p>big</p>" * 5000 + b"</body></html>",
        "too-many-blocks.html": b"<html><body>" + b"<br>x" * 400 + b"</body></html>",
        "no-text.html": b"<html><head><script>app()</script></head><body><div id=root></div></body></html>",
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    _warc_with_damage(tmp_path / "crawl.warc.gz")
    settings = ScoreSettings(batch_pages=3, max_page_bytes=20_000, max_blocks=300)
    summary = score([str(folder), str(tmp_path / "crawl.warc.gz")], tmp_path / "out", tiny_model, settings,
                    workers=2)
    rows = {Path(p["page_id"]).name if p["source"] != str(tmp_path / "crawl.warc.gz") else p["url"] or "garbage": p
            for p in pages_of(tmp_path / "out")}
    expected = {"empty.html": "empty page", "binary.html": "binary content",
                "truncated.html.gz": "truncated or corrupt gzip", "not-html.html": "not HTML",
                "wrong-encoding.html": "wrong encoding", "enormous.html": "page too large",
                "too-many-blocks.html": "too many blocks", "no-text.html": "no text in the page",
                "garbage": "malformed WARC record", "https://w.example/2": "truncated by the crawler"}
    for name, reason in expected.items():
        assert rows[name]["status"] == "error" and reason in rows[name]["error"], name
        assert rows[name]["blocks"] is None
    good = [name for name in rows if name not in expected]
    assert sorted(good) == ["https://w.example/1", "https://w.example/3"] + [f"page-{n:04d}.html" for n in range(4)]
    assert all(rows[name]["status"] == "ok" and rows[name]["blocks"] == 7 for name in good)
    assert (summary.pages, summary.ok, summary.errors) == (len(rows), len(good), len(expected))
    assert len(rows) == 16
    assert {b["page_id"] for b in blocks_of(tmp_path / "out")} == {rows[name]["page_id"] for name in good}


def test_a_page_that_kills_its_worker_becomes_an_error_row(tmp_path, tiny_model, monkeypatch):
    import segclf.scoring

    real = segclf.scoring.parse_page

    def crashing(data, *args, **kwargs):
        if b"CRASH-ME" in data:
            os._exit(3)  # as a segfault in native code would
        return real(data, *args, **kwargs)

    monkeypatch.setattr(segclf.scoring, "parse_page", crashing)
    make_pages(tmp_path / "in", 6)
    (tmp_path / "in" / "page-0002.html").write_bytes(page(2).replace(b"Home", b"CRASH-ME"))
    summary = score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(batch_pages=2), workers=2,
                    start_method="fork")  # fork: the workers see the patched parser
    rows = {Path(p["page_id"]).name: p for p in pages_of(tmp_path / "out")}
    assert len(rows) == 6 and (summary.ok, summary.errors) == (5, 1)
    assert "worker process died" in rows["page-0002.html"]["error"]


# -- resuming --------------------------------------------------------------------------------------------------

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from segclf.cli import main; main()", *args]


def test_killed_run_resumes_with_every_page_exactly_once(tmp_path, tiny_model_path):
    make_pages(tmp_path / "in", 240)
    out = tmp_path / "out"
    command = _cli("score", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model_path), "--workers", "2",
                   "--batch-pages", "4")
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    log = out / "shards.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 8:
            break
        time.sleep(0.01)
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)  # the whole process group: main process and workers, mid-write
    run.wait()
    done_before = log.read_text().count("\n")
    assert 8 <= done_before < 60
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "240 pages: 240 ok, 0 errors" in finished.stdout
    pages = pages_of(out)
    assert len(pages) == 240 and Counter(p["page_id"] for p in pages).most_common(1)[0][1] == 1
    blocks = blocks_of(out)
    assert Counter((b["page_id"], b["block_index"]) for b in blocks).most_common(1)[0][1] == 1
    assert len(blocks) == sum(p["blocks"] for p in pages)
    assert not list(out.rglob("*.tmp"))


def test_resume_repairs_whatever_a_kill_left(tmp_path, tiny_model):
    make_pages(tmp_path / "in", 20)
    out = tmp_path / "out"
    settings = ScoreSettings(batch_pages=3)
    score([str(tmp_path / "in")], out, tiny_model, settings, workers=1)
    reference = sorted((p["page_id"], p["blocks"]) for p in pages_of(out))
    # What a kill can leave: the manifest still running, a log line cut short, a shard written but not logged,
    # a half-written temporary file.
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    lines = (out / "shards.jsonl").read_text().splitlines(keepends=True)
    (out / "shards.jsonl").write_text("".join(lines[:3]) + lines[3][:25])
    (out / "blocks" / ".part-000005.parquet.abc123.tmp").write_bytes(b"half a shard")
    summary = score([str(tmp_path / "in")], out, tiny_model, settings, workers=1)
    assert summary.resumed == 3 and summary.pages == 20
    assert sorted((p["page_id"], p["blocks"]) for p in pages_of(out)) == reference
    assert not list(out.rglob("*.tmp"))
    assert (out / "shards.jsonl").read_text().count("\n") == 7


def test_rerun_of_a_finished_run_changes_nothing(tmp_path, tiny_model):
    make_pages(tmp_path / "in", 4)
    first = score([str(tmp_path / "in")], tmp_path / "out", tiny_model, workers=1)
    again = score([str(tmp_path / "in")], tmp_path / "out", tiny_model, workers=1)
    assert (again.pages, again.blocks, again.resumed) == (first.pages, first.blocks, first.shards)


def test_output_of_another_run_is_not_mixed_in(tmp_path, tiny_model):
    make_pages(tmp_path / "in", 4)
    score([str(tmp_path / "in")], tmp_path / "out", tiny_model, workers=1)
    with pytest.raises(SegclfError, match="holds a run with other settings"):
        score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(output_format="jsonl"), workers=1)
    summary = score([str(tmp_path / "in")], tmp_path / "out", tiny_model, ScoreSettings(output_format="jsonl"),
                    workers=1, overwrite=True)
    assert summary.pages == 4 and not list((tmp_path / "out" / "pages").glob("*.parquet"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("someone's file")
    with pytest.raises(SegclfError, match="not empty"):
        score([str(tmp_path / "in")], tmp_path / "other", tiny_model, workers=1)


@pytest.mark.parametrize("removed", [[0], [4, 5]], ids=["a page gone", "pages gone at the end"])
def test_changed_inputs_are_caught_on_resume(tmp_path, tiny_model, removed):
    make_pages(tmp_path / "in", 6)
    out = tmp_path / "out"
    score([str(tmp_path / "in")], out, tiny_model, ScoreSettings(batch_pages=2), workers=1)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    for n in removed:
        (tmp_path / "in" / f"page-{n:04d}.html").unlink()
    with pytest.raises(SegclfError, match="inputs changed"):
        score([str(tmp_path / "in")], out, tiny_model, ScoreSettings(batch_pages=2), workers=1)


# -- the shared pages ------------------------------------------------------------------------------------------

def test_warc_and_html_files_give_the_same_labels(shared, tiny_model, tmp_path):
    score([str(shared / "pages" / "aeb.warc.gz")], tmp_path / "warc", tiny_model, workers=2)
    score([str(shared / "pages" / "aeb" / "html")], tmp_path / "html", tiny_model, workers=2)
    from_warc, from_html = pages_of(tmp_path / "warc"), pages_of(tmp_path / "html")
    assert len(from_warc) == len(from_html) == 157
    assert all(p["status"] == "ok" for p in from_warc + from_html)
    truth = json.loads((shared / "pages" / "aeb" / "ground-truth.json").read_text())
    url_of_file = {p["page_id"]: truth[Path(p["page_id"]).name.split(".")[0]]["url"] for p in from_html}
    warc_id_of_url = {p["url"]: p["page_id"] for p in from_warc}
    labels = {}
    for b in blocks_of(tmp_path / "warc"):
        labels[(b["page_id"], b["block_index"])] = (b["text"], b["label"])
    html_blocks = blocks_of(tmp_path / "html")
    assert len(html_blocks) == len(labels)
    for b in html_blocks:
        assert labels[(warc_id_of_url[url_of_file[b["page_id"]]], b["block_index"])] == (b["text"], b["label"])
    assert {p["sha256"] for p in from_warc} == {p["sha256"] for p in from_html}


# -- the commands ----------------------------------------------------------------------------------------------

def test_blocks_command_prints_the_blocks(tmp_path):
    path = tmp_path / "p.html.gz"
    path.write_bytes(gzip.compress(page(1)))
    result = CliRunner().invoke(app, ["blocks", str(path)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["0", "title"] and lines[0].endswith("Page 1")
    assert "Home" in lines[1] and "a,nav" in lines[1]
    as_json = CliRunner().invoke(app, ["blocks", "--json", str(path)])
    home = json.loads(as_json.output.splitlines()[1])
    assert home == {"index": 1, "text": "Home", "tag": "a", "cues": ["a", "nav"], "link_density": 1.0,
                    "class_tokens": "", "region": home["region"]}
    assert len(home["region"]) == 4 and len(set(home["region"])) == 4  # the link and three ancestors
    (tmp_path / "bin.html").write_bytes(b"\x89PNG\r\n\x1a\n....")
    failed = CliRunner().invoke(app, ["blocks", str(tmp_path / "bin.html")])
    assert failed.exit_code == 1 and "bin.html: binary content" in failed.output


def test_score_command_exits_zero_with_error_rows(tmp_path, tiny_model_path):
    make_pages(tmp_path / "in", 2)
    (tmp_path / "in" / "empty.html").write_bytes(b"")
    result = CliRunner().invoke(app, ["score", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model",
                                      str(tiny_model_path), "--workers", "1", "--only", "reported,quote"])
    assert result.exit_code == 0, result.output
    assert "3 pages: 2 ok, 1 errors" in result.output and "1 empty page" in result.output
    bad = CliRunner().invoke(app, ["score", str(tmp_path / "in"), "-o", str(tmp_path / "o2"), "--model",
                                   str(tiny_model_path), "--only", "news"])
    assert bad.exit_code == 1 and "unknown label in --only: news" in bad.output
    sure = CliRunner().invoke(app, ["score", str(tmp_path / "in"), "-o", str(tmp_path / "o3"), "--model",
                                    str(tiny_model_path), "--workers", "1", "--only", "reported,quote",
                                    "--min-probability", "0.9"])
    assert sure.exit_code == 0, sure.output
    alone = CliRunner().invoke(app, ["score", str(tmp_path / "in"), "-o", str(tmp_path / "o4"), "--model",
                                     str(tiny_model_path), "--min-probability", "0.9"])
    assert alone.exit_code == 1 and "--min-probability needs --only" in alone.output


def test_a_model_that_cannot_label_fails_the_run_before_it_starts(tmp_path, tiny_model):
    from segclf.modelfile import SavedModel

    class Broken:
        classes_ = tiny_model.estimator.classes_

        def predict_documents(self, documents):
            raise ValueError("X has 51 features, but StandardScaler is expecting 49 features as input.")

    make_pages(tmp_path / "in", 2)
    with pytest.raises(SegclfError, match="the model cannot label pages"):
        score([str(tmp_path / "in")], tmp_path / "out", SavedModel(Broken(), {}), workers=1)
    assert not (tmp_path / "out").exists()


def test_a_model_that_reads_regions_labels_a_page_alike_from_score_predict_and_saved_blocks(tmp_path):
    from dataclasses import replace

    from segclf import api
    from segclf.documents import Document
    from segclf.io import read_documents, write_jsonl

    corpus = Path(__file__).resolve().parent.parent / "data" / "labeled"
    training = read_documents([str(p) for p in sorted((corpus / "train").glob("h*/*.html"))[:8]], require_labels=True)
    model, _ = api.train(training, seed=0, cv=0, structure=False)
    assert model.estimator.regions
    page_path = sorted((corpus / "test" / "hb-daily-klaxon").glob("*.html"))[0]
    score([str(page_path)], tmp_path / "out", model, workers=1)
    scored = blocks_of(tmp_path / "out")
    predicted = api.label_documents(read_documents([str(page_path)]), model)[0].paragraphs
    with open(tmp_path / "blocks.jsonl", "w", encoding="utf-8") as stream:  # the page's blocks, saved and read back
        write_jsonl([Document("saved", [replace(p, label=None, scores=None) for p in predicted])], stream)
    saved = api.label_documents(read_documents([str(tmp_path / "blocks.jsonl")]), model)[0].paragraphs
    assert len(scored) == len(predicted) == len(saved) > 50
    for row, p, q in zip(scored, predicted, saved):
        assert row["label"] == p.label == q.label and p.scores == q.scores
        assert row["p_boilerplate"] == pytest.approx(p.scores["boilerplate"], abs=1e-6)
    without = [replace(p, label=None, scores=None, structure=replace(p.structure, region=())) for p in predicted]
    plain = api.label_documents([Document("plain", without)], model)[0].paragraphs
    assert any(p.scores != q.scores for p, q in zip(plain, predicted))  # the regions are read, not ignored
