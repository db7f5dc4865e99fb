"""Tests for tasks/encodings.py: encoding detection and declared encodings.

The test set is tests/data/encodings/: real CJK passages (and western and Cyrillic ones), stored
as UTF-8 and written in each encoding here by bench/score_encodings.py, which scores them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.clean import clean_batch, documents_table
from tasks.encodings import decode_bytes
from tasks.errors import InputError
from tasks.ingest import ingest_sources, write_batches
from tasks.listing import discover_sources
from tasks.settings import Settings, parse_folder_encodings
from tasks.stage_files import read_arrow
from tasks.storage import Location
from tests.conftest import load_bench_script

ISSUE_LINE = "中国经济增长 2.4% 。 GDP rose 6 percent."


SCORER = load_bench_script("score_encodings")


@pytest.fixture(scope="module")
def outcomes():
    """decode_bytes on every (passage, encoding) pair of the test set."""
    return SCORER.score(decode_bytes)


def ingest(raw: Path, folder_encodings: tuple[tuple[str, str], ...] = ()):
    return ingest_sources(raw, discover_sources(raw), 10_000_000, folder_encodings)


@pytest.mark.parametrize("group", SCORER.CJK_GROUPS)
def test_the_test_set_has_40_passages_per_script_half_short_half_long(group: str):
    passages = SCORER.passages(group)
    short = [text for text in passages if 8 <= len(text) <= SCORER.SHORT_MAX_CHARS and "\n" not in text]
    long = [text for text in passages if SCORER.LONG_MIN_CHARS <= len(text) <= 600]
    assert len(passages) >= 40 and len(short) >= 20 and len(long) >= 20
    assert len(short) + len(long) == len(passages)
    assert len(set(passages)) == len(passages)
    written = {pair.encoding for pair in SCORER.pairs((group,))}
    assert written == set(SCORER.GROUP_ENCODINGS[group])  # every encoding holds some passages


def test_the_issue_line_is_in_the_test_set():
    assert ISSUE_LINE in SCORER.passages("simplified")


def test_detection_is_right_on_98_percent_of_the_test_set(outcomes):
    figures = SCORER.report(outcomes)["overall"]
    wrong = [(o.pair.group, o.pair.number, o.pair.encoding, o.codec) for o in outcomes if not o.right]
    assert figures["accuracy"] >= 0.98, wrong
    assert figures["wrong_not_doubtful"] <= 2, wrong  # a wrong decoding is (almost) always flagged


@pytest.mark.parametrize("group, encoding", [(group, encoding) for group, encodings in SCORER.GROUP_ENCODINGS.items()
                                             for encoding in encodings])
def test_detection_per_group_and_encoding(outcomes, group: str, encoding: str):
    mine = [o for o in outcomes if (o.pair.group, o.pair.encoding) == (group, encoding)]
    right = [o for o in mine if o.right]
    assert len(right) >= 0.95 * len(mine), [(o.pair.number, o.codec, o.text) for o in mine if not o.right]
    long = [o for o in mine if o.pair.is_long]
    assert sum(o.doubtful for o in long) <= 0.02 * len(long)  # doubt is for short texts


def test_the_issue_example_is_gb18030_and_certain():
    text, encoding, doubtful = decode_bytes(ISSUE_LINE.encode("gb18030"))
    assert (text, encoding, doubtful) == (ISSUE_LINE, "gb18030", False)


@pytest.mark.parametrize("text, encoding", [
    ("GDP增长2.4%", "gb18030"),  # two hanzi: their GB18030 and EUC-JP readings are both plausible
    # Five hanzi whose GB18030 bytes are all valid EUC-KR Hangul: the two readings cost the same.
    ("笔记本电脑", "gb18030"),
    ("°C", "cp1252"),  # two bytes that Big5 reads as a common hanzi
    ("niño", "cp1252"),  # as BOM-less UTF-16 two common hanzi, 楮濱: too few letters to be sure
    # Ten rare hanzi (GB2312 level 2): no CJK reading is plausible, so a single-byte codec is
    # chosen, but the bytes are double-byte text, and that choice is only a guess.
    ("亍侉诏鄱芙菽匏咭噘徉", "gb18030"),
])
def test_a_short_ambiguous_text_is_recorded_as_doubtful(text: str, encoding: str):
    assert decode_bytes(text.encode(encoding)).doubtful


@pytest.mark.parametrize("text, encoding", [
    ("Le café a gagné 5 % et £5m.", "cp1252"),
    ("Britannia members' £42m windfall", "cp1252"),  # not Shift_JIS "｣42m"
    ("Größte Übung der Feuerwehr in Süddeutschland", "latin-1"),
    # An accented letter and the ASCII letter after it are one common hanzi in some CJK codec.
    ("La flambée des prix de l’énergie", "cp1252"),
    ("Kritiker bemängeln die Kosten", "latin-1"),
    ("Année record pour le tourisme", "latin-1"),
    ("Центральный банк России повысил ключевую ставку до 16 процентов годовых.", "cp1251"),
])
def test_western_and_cyrillic_text_is_not_read_as_cjk(text: str, encoding: str):
    decoded = decode_bytes(text.encode(encoding))
    assert decoded.text == text
    assert decoded.encoding in ("cp1252", "cp1251")  # cp1252 holds every Latin-1 letter


def test_bomless_utf16_with_ascii_is_certain_and_binary_data_is_still_rejected():
    assert decode_bytes("Sales rose 7% to $3m.".encode("utf-16-le")) == ("Sales rose 7% to $3m.", "utf-16-le", False)
    with pytest.raises(InputError) as raised:
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert raised.value.error_type == "binary_file"


def test_a_sidecar_encoding_overrides_detection(tmp_path: Path):
    (tmp_path / "short.txt").write_bytes("GDP增长2.4%".encode("gb18030"))
    (tmp_path / "short.meta.json").write_text(json.dumps({"encoding": "GB18030", "title": "GDP"}))
    # Valid UTF-8 too is read as the sidecar says: it speaks for this one file.
    (tmp_path / "latin.txt").write_bytes("café".encode("utf-8"))
    (tmp_path / "latin.meta.json").write_text(json.dumps({"encoding": "latin-1"}))
    documents, errors = ingest(tmp_path)
    assert errors == []
    latin, short = documents
    assert (short.raw_text, short.encoding, short.encoding_doubtful, short.title) == (
        "GDP增长2.4%", "gb18030", False, "GDP")
    assert (latin.raw_text, latin.encoding, latin.encoding_doubtful) == ("cafÃ©", "iso8859-1", False)


def test_a_declared_encoding_that_does_not_fit_is_an_undecodable_error_row(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes("삼성전자 3분기 영업이익 10조 원".encode("euc_kr"))
    (tmp_path / "a.meta.json").write_text(json.dumps({"encoding": "ascii"}))
    (tmp_path / "yonhap").mkdir()
    (tmp_path / "yonhap" / "b.txt").write_bytes("日経平均株価、終値は3万8000円台".encode("shift_jis"))
    documents, errors = ingest(tmp_path, parse_folder_encodings("yonhap=euc-kr"))
    assert documents == []
    messages = {error.source: (error.error_type, error.message) for error in errors}
    assert messages["a.txt"][0] == messages["yonhap/b.txt"][0] == "undecodable"
    assert "not valid ascii, the encoding its sidecar a.meta.json declares" in messages["a.txt"][1]
    assert "not valid euc_kr, the encoding NEWSFLOW_FOLDER_ENCODINGS for folder 'yonhap' declares" in (
        messages["yonhap/b.txt"][1])


@pytest.mark.parametrize("encoding, message", [("gb-2312", "'gb-2312' is not a text encoding"),
                                               ("base64", "'base64' is not a text encoding"),
                                               (936, "'encoding' must be a string")])
def test_a_sidecar_with_an_unknown_encoding_is_invalid_metadata(tmp_path: Path, encoding, message: str):
    (tmp_path / "a.txt").write_bytes(ISSUE_LINE.encode("gb18030"))
    (tmp_path / "a.meta.json").write_text(json.dumps({"encoding": encoding, "title": "Ignored"}))
    documents, errors = ingest(tmp_path)
    assert [(error.source, error.error_type) for error in errors] == [("a.meta.json", "invalid_metadata")]
    assert message in errors[0].message
    [document] = documents  # the article is kept, decoded by detection, as for any bad sidecar
    assert (document.raw_text, document.encoding, document.title) == (ISSUE_LINE, "gb18030", None)


def test_folder_defaults_deepest_folder_wins_and_a_sidecar_beats_them(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NEWSFLOW_FOLDER_ENCODINGS", "xinhua/hk=big5, xinhua=gb18030")
    settings = Settings.from_env(tmp_path)
    assert settings.folder_encodings == (("xinhua", "gb18030"), ("xinhua/hk", "big5"))
    hk = "香港天文台發出黃色暴雨警告"
    (tmp_path / "xinhua" / "hk").mkdir(parents=True)
    (tmp_path / "xinhua" / "a.txt").write_bytes("GDP增长2.4%".encode("gb18030"))
    (tmp_path / "xinhua" / "utf8.txt").write_bytes("人民币汇率".encode("utf-8"))  # valid UTF-8 stays UTF-8
    (tmp_path / "xinhua" / "feed.jsonl").write_text(json.dumps({"text": "人民币汇率"}), encoding="utf-8")
    (tmp_path / "xinhua" / "hk" / "b.txt").write_bytes(hk.encode("big5"))
    (tmp_path / "xinhua" / "hk" / "c.txt").write_bytes("삼성전자".encode("euc_kr"))
    (tmp_path / "xinhua" / "hk" / "c.meta.json").write_text(json.dumps({"encoding": "euc-kr"}))
    (tmp_path / "other.txt").write_bytes("GDP增长2.4%".encode("gb18030"))  # outside: detection decides
    documents, errors = ingest(tmp_path, settings.folder_encodings)
    assert errors == []
    found = {doc.source: (doc.raw_text, doc.encoding, doc.encoding_doubtful) for doc in documents}
    assert found == {
        "xinhua/a.txt": ("GDP增长2.4%", "gb18030", False),
        "xinhua/utf8.txt": ("人民币汇率", "utf-8", False),
        "xinhua/feed.jsonl#line=1": ("人民币汇率", "utf-8", False),
        "xinhua/hk/b.txt": (hk, "big5", False),
        "xinhua/hk/c.txt": ("삼성전자", "euc_kr", False),
        "other.txt": ("GDP增长2.4%", "gb18030", True),
    }


def test_the_raw_folder_itself_can_have_a_default(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes("Öl".encode("latin-1"))
    [document], _ = ingest(tmp_path, parse_folder_encodings(".=cp1252"))
    assert (document.raw_text, document.encoding, document.encoding_doubtful) == ("Öl", "cp1252", False)


@pytest.mark.parametrize("value, message", [
    ("xinhua", "'xinhua' is not folder=encoding"),
    ("xinhua=gb-2312", "'xinhua=gb-2312': 'gb-2312' is not a text encoding that Python knows"),
    ("yonhap=rot13", "'yonhap=rot13': 'rot13' is not a text encoding"),
    ("=gbk", "'=gbk' is not folder=encoding"),
    ("../up=gbk", "'../up=gbk' is not folder=encoding with a folder inside the raw folder"),
    ("/abs=gbk", "'/abs=gbk' is not folder=encoding with a folder inside the raw folder"),
    ("a=gbk,a/=big5", "folder 'a' is given twice"),
])
def test_bad_folder_encodings_fail_when_settings_load(monkeypatch, value: str, message: str):
    monkeypatch.setenv("NEWSFLOW_FOLDER_ENCODINGS", value)
    with pytest.raises(ValueError) as raised:
        Settings.from_env()
    assert message in str(raised.value)


def test_the_doubt_reaches_the_documents_table(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "doubtful.txt").write_bytes("GDP增长2.4%".encode("gb18030"))
    (raw / "sure.txt").write_bytes(ISSUE_LINE.encode("gb18030"))
    documents, _ = ingest(raw)
    [batch], _ = write_batches(documents, target_size=16, work=Location(tmp_path / "work"))
    rows = read_arrow(batch.path).to_pylist()
    cleaned, errors = clean_batch(rows)
    assert errors == []
    table = documents_table(cleaned)
    assert dict(zip(table["source"].to_pylist(), table["encoding_doubtful"].to_pylist())) == {
        "doubtful.txt": True, "sure.txt": False}
