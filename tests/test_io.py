"""Readers and writers: every format in, bad input named by file and line, outputs written atomically."""

import json
import re

import pytest

from segclf.documents import Document, Paragraph
from segclf.errors import SegclfError
from segclf.io import atomic_output, document_record, iter_documents, read_documents, write_csv, write_jsonl


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_jsonl_keeps_fields_and_order(tmp_path):
    path = write(tmp_path / "a.jsonl",
                 '{"id": "d1", "source": "s", "url": "u", "paragraphs": [{"text": "A", "label": "reported", '
                 '"note": 1}, {"text": "B"}]}\n\n{"id": "d2", "paragraphs": ["C"]}\n')
    docs = read_documents([path])
    assert [d.id for d in docs] == ["d1", "d2"]
    assert docs[0].texts == ["A", "B"] and docs[1].texts == ["C"]
    record = document_record(docs[0])
    assert record["source"] == "s" and record["url"] == "u"
    assert record["paragraphs"][0]["note"] == 1 and record["paragraphs"][0]["gold_label"] == "reported"


def test_csv_and_tsv_group_rows_by_document(tmp_path):
    csv_path = write(tmp_path / "a.csv", 'doc_id,text,label\nx,"Hello, world",reported\ny,Hi,quote\nx,Bye,opinion\n')
    tsv_path = write(tmp_path / "a.tsv", "doc_id\ttext\tlabel\nx\tHello\treported\n")
    docs = read_documents([csv_path], require_labels=True)
    assert [(d.id, d.texts, d.labels) for d in docs] == [
        ("x", ["Hello, world", "Bye"], ["reported", "opinion"]), ("y", ["Hi"], ["quote"])]
    assert read_documents([tsv_path], require_labels=True)[0].labels == ["reported"]


def test_plain_text_paragraphs_split_on_blank_lines(tmp_path):
    path = write(tmp_path / "page.txt", "First line\ncontinues.\n\n\nSecond.\n")
    (doc,) = read_documents([path])
    assert doc.texts == ["First line continues.", "Second."] and doc.id == "page.txt"


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "paragraphs": []}\n{"id": "b", "paragraphs": [\n', "a.jsonl:2: malformed JSON"),
    ('{"id": "a"}\n', "a.jsonl:1: missing field 'paragraphs'"),
    ('{"id": "a", "paragraphs": [{"label": "quote"}]}\n', "a.jsonl:1: paragraph 0: missing field 'text'"),
    ('{"id": "a", "paragraphs": [{"text": "x", "label": "rumour"}]}\n', "a.jsonl:1: paragraph 0: unknown label 'rumour'"),
    ('{"id": "a", "paragraphs": [{"text": "x"}]}\n', "a.jsonl:1: paragraph 0: missing label"),
    ('[1, 2]\n', "a.jsonl:1: expected a JSON object"),
    ('{"id": "a", "paragraphs": [{"text": "x", "label": "quote", "structure": {"region": ["top"]}}]}\n',
     "a.jsonl:1: paragraph 0: bad 'structure'"),
    ('{"id": "a", "paragraphs": [{"text": "x", "label": "quote", "structure": {"link_density": "high"}}]}\n',
     "a.jsonl:1: paragraph 0: bad 'structure'"),
    ('{"id": "a", "paragraphs": [{"text": "x", "label": "quote", "structure": "p"}]}\n',
     "a.jsonl:1: paragraph 0: 'structure' must be an object"),
    ("", "a.jsonl: empty file"),
    ("\n\n", "a.jsonl: no documents found"),
])
def test_bad_labeled_input_names_file_and_line(tmp_path, content, message):
    path = write(tmp_path / "a.jsonl", content)
    with pytest.raises(SegclfError) as error:
        read_documents([path], require_labels=True)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_non_utf8_names_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", b'{"id": "a", "paragraphs": ["ok"]}\n{"id": "b\xff"}\n', mode="wb")
    with pytest.raises(SegclfError, match=r"a.jsonl:2: not valid UTF-8"):
        read_documents([path])


def test_missing_file_and_bad_csv_header(tmp_path):
    with pytest.raises(SegclfError, match="nope.jsonl: no such file"):
        list(iter_documents(str(tmp_path / "nope.jsonl")))
    path = write(tmp_path / "a.csv", "id,body\n1,x\n")
    with pytest.raises(SegclfError, match=r"a.csv:1: missing columns doc_id, text"):
        read_documents([path])


def test_unlabeled_input_ignores_labels_but_keeps_them_as_gold(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"id": "a", "paragraphs": [{"text": "x", "label": "rumour"}]}\n')
    (doc,) = read_documents([path])
    assert doc.paragraphs[0].label is None and doc.paragraphs[0].extra["gold_label"] == "rumour"


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_output(str(target)) as stream:
            stream.write("half a line")
            raise RuntimeError("crash")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_writers(tmp_path):
    doc = Document("d", [Paragraph("Hi, there", "quote", scores={"quote": 0.9, "reported": 0.1})])
    with atomic_output(str(tmp_path / "o.jsonl")) as stream:
        write_jsonl([doc], stream)
    record = json.loads((tmp_path / "o.jsonl").read_text())
    assert record["paragraphs"][0]["label"] == "quote" and record["paragraphs"][0]["scores"]["quote"] == 0.9
    with atomic_output(str(tmp_path / "o.csv")) as stream:
        write_csv([doc], stream)
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0].startswith("doc_id,index,label,probability") and lines[1].startswith('d,0,quote,0.9000')


_LABELED_PAGE = """<!doctype html><html data-segclf-label="boilerplate"><head><title>Dam vote | Post</title></head>
<body><nav><a href="/">Home</a></nav><article><h1 data-segclf-label="reported">Dam vote delayed</h1>
<div class="body" data-segclf-label="reported"><p>The council voted 5-2 to delay the dam.</p>
<p data-segclf-label="quote">"We need time," the mayor said.</p>
<figure><figcaption data-segclf-label="caption">The site in May.</figcaption></figure></div></article>
<footer>Copyright 2026</footer></body></html>"""


def test_labeled_html_page_reads_labels_from_the_nearest_ancestor(tmp_path):
    path = tmp_path / "the-post" / "dam.html"
    path.parent.mkdir()
    path.write_text(_LABELED_PAGE, encoding="utf-8")
    (doc,) = read_documents([str(path)], require_labels=True)
    assert doc.id == "dam" and doc.fields["outlet"] == "the-post"
    assert [(p.text, p.label) for p in doc.paragraphs] == [
        ("Dam vote | Post", "boilerplate"), ("Home", "boilerplate"), ("Dam vote delayed", "reported"),
        ("The council voted 5-2 to delay the dam.", "reported"), ('"We need time," the mayor said.', "quote"),
        ("The site in May.", "caption"), ("Copyright 2026", "boilerplate")]
    assert doc.paragraphs[5].structure.tag == "figcaption"
    (unlabeled,) = read_documents([str(path)])  # for predict: the labels are kept as gold labels
    assert unlabeled.paragraphs[4].extra == {"gold_label": "quote"}
    assert "lang" not in doc.fields
    path.write_text(_LABELED_PAGE.replace("<html ", '<html lang="ja" '), encoding="utf-8")
    (japanese,) = read_documents([str(path)], require_labels=True)
    assert japanese.fields["lang"] == "ja"  # the page's language, where it says it: to report by language


@pytest.mark.parametrize("page, message", [
    (_LABELED_PAGE.replace(' data-segclf-label="boilerplate"', "", 1),
     "block 0 ('Dam vote | Post'): no data-segclf-label"),
    (_LABELED_PAGE.replace('"caption"', '"picture"'), "block 5 ('The site in May.'): unknown label 'picture'"),
    ("just some text", "not HTML"),
])
def test_bad_labeled_html_names_the_file_and_block(tmp_path, page, message):
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    with pytest.raises(SegclfError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_documents([str(path)], require_labels=True)


def test_unlabeled_html_page_reads_for_prediction(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(_LABELED_PAGE.replace("data-segclf-label", "data-other"), encoding="utf-8")
    (doc,) = read_documents([str(path)])
    assert len(doc.paragraphs) == 7 and all(p.label is None for p in doc.paragraphs)
    with pytest.raises(SegclfError, match="no data-segclf-label"):
        read_documents([str(path)], require_labels=True)


def test_structure_round_trips_through_jsonl(tmp_path):
    from segclf.documents import Structure

    block = Structure(tag="h2", cues=frozenset({"h"}), link_density=0.25, class_tokens="story", region=(7, 3, 2, 1))
    path = tmp_path / "s.jsonl"
    with open(path, "w", encoding="utf-8") as stream:
        write_jsonl([Document("d", [Paragraph("Subhead", "reported", block)])], stream)
    assert read_documents([str(path)])[0].paragraphs[0].structure == block
