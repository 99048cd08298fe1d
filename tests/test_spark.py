"""The Spark job (`segclf spark-score`): the rows of `segclf score`, page for page and block for block, on local[2].

Tests that run Spark skip without pyspark or Java; the planning helpers are tested either way.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from segclf import SegclfError
from segclf.scoring import BLOCK_SCHEMA, PAGE_SCHEMA, ScoreSettings, read_table, score
from segclf.spark import (MAX_SPLIT, MIN_SPLIT, InputFile, Unit, auto_split_bytes, pack, plan_units, read_path_list,
                          with_retries)
from test_scoring import _warc_with_damage, make_pages, page

REPO = Path(__file__).resolve().parent.parent

# Installed in every Python worker of the test session (a sitecustomize module on their PYTHONPATH): parsing a
# page that holds CRASH-ME kills the process, as a crash in the HTML parser's native code would.
_CRASH_HOOK = """
import os


def _install():
    import segclf.scoring as scoring

    real = scoring.parse_page

    def parse_page(data, *args, **kwargs):
        if isinstance(data, bytes) and b"CRASH-ME" in data:
            os._exit(3)
        return real(data, *args, **kwargs)

    scoring.parse_page = parse_page


_install()
"""


def _java() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and Path(home, "bin", "java").exists()))


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark")
    if not _java():
        pytest.skip("Spark needs Java")
    from segclf.spark import start_session

    hook = tmp_path_factory.mktemp("hook")
    (hook / "sitecustomize.py").write_text(_CRASH_HOOK)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), saved]))  # the JVM passes it to workers
    try:
        session, started = start_session("local[2]", {"spark.ui.enabled": "false",
                                                      "spark.sql.shuffle.partitions": "2"})
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    yield session
    if started:
        session.stop()


def run(spark, inputs, out, model, settings=ScoreSettings(), **kwargs):
    from segclf.spark import spark_score

    return spark_score(spark, [str(p) for p in inputs], out, model, settings, **kwargs)


def rows(out, table: str) -> list[dict]:
    key = (lambda r: (r["page_id"], r["block_index"])) if table == "blocks" else (lambda r: (r["page_id"],))
    return sorted(read_table(out, table).to_pylist(), key=key)


def same_columns(out, table: str, schema: pa.Schema) -> bool:
    written = read_table(out, table).schema
    return written.names == schema.names and all(written.field(n).type == schema.field(n).type for n in schema.names)


@pytest.fixture(scope="module")
def aeb_reference(tmp_path_factory, tiny_model):
    """`segclf score` on the shared WARC (needs ../shared)."""
    from conftest import SHARED

    warc = SHARED / "pages" / "aeb.warc.gz"
    if not warc.is_file():
        pytest.skip("../shared (real crawled pages) is not here")
    out = tmp_path_factory.mktemp("reference") / "out"
    summary = score([str(warc)], out, tiny_model, workers=2)
    return warc, out, summary


# -- the check: the command on the shared WARC ----------------------------------------------------------

def test_spark_score_command_writes_the_rows_of_segclf_score(spark, aeb_reference, tiny_model_path, tmp_path):
    warc, reference, summary = aeb_reference
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "PYSPARK_PYTHON"}
    result = subprocess.run([sys.executable, "-m", "segclf.cli", "spark-score", str(warc), "-o", str(out),
                             "--master", "local[2]", "--model", str(tiny_model_path),
                             "--conf", "spark.ui.enabled=false"],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"157 pages: 157 ok, 0 errors; {summary.blocks} blocks"), result.stdout
    assert same_columns(out, "pages", PAGE_SCHEMA) and same_columns(out, "blocks", BLOCK_SCHEMA)
    assert rows(out, "pages") == rows(reference, "pages")
    assert rows(out, "blocks") == rows(reference, "blocks")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["master"] == "local[2,4]"
    assert manifest["totals"] == json.loads((reference / "manifest.json").read_text())["totals"] | {
        "shards": manifest["tasks"]}
    assert len(list((out / "blocks").glob("part-*.parquet"))) > 1  # the one file was spread over tasks


# -- bad records -----------------------------------------------------------------------------------------------

def _bad_inputs(folder: Path) -> list[Path]:
    make_pages(folder / "html", 4)
    bad = {
        "empty.html": b"",
        "binary.html": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "truncated.html.gz": gzip.compress(page(50) * 20)[:-200],
        "not-html.html": json.dumps({"data": [1, 2, 3]}).encode(),
        "enormous.html": b"<html><body>" + b"<p>big</p>" * 5000 + b"</body></html>",
        "too-many-blocks.html": b"<html><body>" + b"<br>x" * 400 + b"</body></html>",
        "no-text.html": b"<html><head><script>app()</script></head><body><div id=root></div></body></html>",
        "notes.txt": b"not a page",
    }
    for name, data in bad.items():
        (folder / "html" / name).write_bytes(data)
    _warc_with_damage(folder / "crawl.warc.gz")
    docs = folder / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "paragraphs": ["Police said on Monday.", "“We act,” she said."]}) + "\n"
                    + "{not json\n" + json.dumps({"id": "d2", "paragraphs": []}) + "\n")
    return [folder / "html", folder / "crawl.warc.gz", docs]


def test_bad_records_become_the_error_rows_of_segclf_score(spark, tiny_model, tmp_path):
    inputs = _bad_inputs(tmp_path / "in")
    settings = ScoreSettings(batch_pages=3, max_page_bytes=20_000, max_blocks=300)
    expected = score([str(p) for p in inputs], tmp_path / "reference", tiny_model, settings, workers=1)
    # Ranges of 300 bytes: the damaged WARC is read in pieces that start and end inside its records.
    summary = run(spark, inputs, tmp_path / "out", tiny_model, settings, split_bytes=300)
    assert summary.units > sum(1 for file in (tmp_path / "in").rglob("*") if file.is_file())
    pages = rows(tmp_path / "out", "pages")
    assert pages == rows(tmp_path / "reference", "pages")
    assert rows(tmp_path / "out", "blocks") == rows(tmp_path / "reference", "blocks")
    assert (summary.pages, summary.ok, summary.errors, summary.blocks) == \
        (expected.pages, expected.ok, expected.errors, expected.blocks) == (18, 7, 11, summary.blocks)
    assert summary.skipped == expected.skipped == {"file of another kind (.txt)": 1}
    assert summary.error_reasons == expected.error_reasons
    assert {p["error"].split(" (")[0] for p in pages if p["status"] == "error"} >= {
        "empty page", "not HTML: no markup in the page", "truncated by the crawler", "malformed JSON"}


def test_a_page_that_kills_its_worker_becomes_an_error_row(spark, tiny_model, tmp_path):
    make_pages(tmp_path / "in", 6)
    (tmp_path / "in" / "page-0002.html").write_bytes(page(2).replace(b"Home", b"CRASH-ME"))
    summary = run(spark, [tmp_path / "in"], tmp_path / "out", tiny_model, ScoreSettings(batch_pages=2))
    pages = {Path(p["page_id"]).name: p for p in rows(tmp_path / "out", "pages")}
    assert len(pages) == 6 and (summary.ok, summary.errors) == (5, 1)
    assert "worker process died" in pages["page-0002.html"]["error"]
    assert all(p["status"] == "ok" and p["blocks"] == 7 for name, p in pages.items() if name != "page-0002.html")


# -- inputs and outputs ----------------------------------------------------------------------------------------

def test_uris_and_a_path_list(spark, tiny_model, tmp_path):
    make_pages(tmp_path / "in" / "html", 3)
    _warc_with_damage(tmp_path / "in" / "crawl.warc.gz")
    listing = tmp_path / "paths.txt.gz"
    listing.write_bytes(gzip.compress(b"# the crawl\ncrawl.warc.gz\n\n"))
    folder = (tmp_path / "in" / "html").as_uri()
    only = ScoreSettings(only=("reported", "quote"), min_probability=0.4)
    summary = run(spark, [folder], (tmp_path / "out").as_uri(), tiny_model, only, paths_from=str(listing),
                  prefix=str(tmp_path / "in") + "/", split_bytes=500)
    assert (summary.files, summary.pages, summary.ok, summary.errors) == (3 + 1, 7, 5, 2)
    score([str(tmp_path / "in" / "html"), str(tmp_path / "in" / "crawl.warc.gz")], tmp_path / "reference",
          tiny_model, only, workers=1)
    assert same_columns(tmp_path / "out", "pages", PAGE_SCHEMA.append(pa.field("text", pa.string())))

    def named(table_rows):  # the same page under its two names: a URI here, a path there
        short = [{**r, **{key: r[key].rsplit("/", 1)[-1] for key in ("page_id", "source") if key in r}}
                 for r in table_rows]
        return sorted(short, key=lambda r: (r["page_id"], r.get("block_index") or 0))

    assert named(rows(tmp_path / "out", "pages")) == named(rows(tmp_path / "reference", "pages"))
    assert named(rows(tmp_path / "out", "blocks")) == named(rows(tmp_path / "reference", "blocks"))
    assert any(p["source"].startswith("file:///") for p in rows(tmp_path / "out", "pages"))


def test_the_output_directory_is_not_overwritten_unless_asked(spark, tiny_model, tmp_path):
    make_pages(tmp_path / "in", 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(SegclfError, match="not empty"):
        run(spark, [tmp_path / "in"], tmp_path / "out", tiny_model)
    with pytest.raises(SegclfError, match="not a segclf spark-score run"):
        run(spark, [tmp_path / "in"], tmp_path / "out", tiny_model, overwrite=True)
    run(spark, [tmp_path / "in"], tmp_path / "run", tiny_model)
    make_pages(tmp_path / "in", 1, start=2)
    summary = run(spark, [tmp_path / "in"], tmp_path / "run", tiny_model, overwrite=True)
    assert summary.pages == len(rows(tmp_path / "run", "pages")) == 3
    with pytest.raises(SegclfError, match="no such file"):
        run(spark, [tmp_path / "missing"], tmp_path / "o2", tiny_model)
    with pytest.raises(SegclfError, match="given twice"):
        run(spark, [tmp_path / "in", tmp_path / "in" / "page-0000.html"], tmp_path / "o3", tiny_model)


# -- planning (no Spark needed) --------------------------------------------------------------------------------

def test_tasks_are_sized_by_input_bytes():
    assert auto_split_bytes(0, 2) == MIN_SPLIT and auto_split_bytes(10**13, 2) == MAX_SPLIT
    assert auto_split_bytes(60 << 20, 2) == 10 << 20
    big = (InputFile("big.warc.gz", "/big.warc.gz", "warc"), 1000, True)
    plain = (InputFile("plain.warc", "/plain.warc", "warc"), 1000, False)
    small = [(InputFile(f"{n}.html", f"/{n}.html", "html"), 10, False) for n in range(3)]
    units = plan_units([big, plain, *small], 300)
    assert [(u.name, u.start, u.end) for u in units[:4]] == [("big.warc.gz", 0, 300), ("big.warc.gz", 300, 600),
                                                            ("big.warc.gz", 600, 900), ("big.warc.gz", 900, 1000)]
    assert [(u.name, u.end) for u in units[4:]] == [("plain.warc", -1)] + [(f"{n}.html", -1) for n in range(3)]
    tiny = [Unit(f"{n}.html", f"/{n}.html", "html", 10) for n in range(40)]
    assert [len(task) for task in pack(tiny, 1 << 20)] == [13, 14, 13]  # 64 KiB to open a file, 2.5 MiB in all
    assert [len(task) for task in pack([Unit("a", "/a", "warc", 5 << 20), *tiny[:4]], 1 << 20)] == [1, 4]
    assert with_retries("local[2]") == "local[2,4]" and with_retries("local") == "local[1,4]"
    assert with_retries("local[*]") == "local[*,4]" and with_retries("local[2,1]") == "local[2,1]"
    assert with_retries("yarn") == "yarn"


def test_path_lists(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/a.warc.gz\n\n# note\ncrawl-data/b.warc.gz\n"))
    assert read_path_list(str(listing), "s3://commoncrawl/") == ["s3://commoncrawl/crawl-data/a.warc.gz",
                                                                  "s3://commoncrawl/crawl-data/b.warc.gz"]
    with pytest.raises(SegclfError, match="cannot read the path list"):
        read_path_list(str(tmp_path / "missing.txt"))


def test_command_mistakes_fail_before_spark_starts(tmp_path, tiny_model_path):
    from typer.testing import CliRunner

    from segclf.cli import app
    from segclf.cli.spark_score import _bytes

    assert [_bytes(size) for size in ("64m", "512k", "1g", "1000", "2MiB")] == [64 << 20, 512 << 10, 1 << 30, 1000,
                                                                               2 << 20]
    (tmp_path / "junk.joblib").write_bytes(b"junk")
    model = ["--model", str(tiny_model_path)]
    for args, message in [([], "no inputs given"), ([str(tmp_path), "--split-bytes", "12q"], "is not a size"),
                          ([str(tmp_path), "--conf", "spark"], "is not KEY=VALUE"),
                          ([str(tmp_path), "--only", "news"], "unknown label in --only: news"),
                          ([str(tmp_path), "--min-probability", "0.5"], "--min-probability needs --only"),
                          ([str(tmp_path), "--model", str(tmp_path / "junk.joblib")], "not a readable segclf model")]:
        extra = [] if "--model" in args else model
        result = CliRunner().invoke(app, ["spark-score", *args, "-o", str(tmp_path / "out"), *extra])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    assert not (tmp_path / "out").exists()
