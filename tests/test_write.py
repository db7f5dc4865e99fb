"""Tests for tasks/write.py: accounted for, duplicates flagged."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tasks.errors import ErrorRecord, errors_table
from tasks.duplicates import text_minhash, words_sha256
from tasks.listing import SourceFile
from tasks.plan import sources_table
from tasks.schemas import (
    CLEAN_DOCUMENTS, DOCUMENT_ENTITIES, DOCUMENTS, ENTITIES, FOUND_QUANTITIES, PUBLISHED_TABLES, QUANTITY_CONTEXTS,
    QUOTATIONS,
)
from tasks.snapshots import MONTH, Snapshot, read_table
from tasks.stage_files import read_arrow, write_arrow, write_stage_output
from tasks.storage import Location
from tasks.fingerprints import (
    StoredFingerprints, document_fingerprints, document_keys, linked_documents, updated_buckets,
)
from tasks.write import (
    MAX_SMALL_FILES, AccountingError, PublishedTables, TableParts, decide_duplicates, flag_duplicates, publish_tables,
    roll_up_entities, spill_by_month,
)
from tests.test_duplicates import STORY


def _doc(doc_id: str, text: str = "t") -> dict:
    return dict(doc_id=doc_id, source=f"{doc_id}.txt", date_source="none", text=text, raw_text=text, chars_removed=0,
                content_sha256="h", n_words=1, encoding="utf-8", encoding_doubtful=False, model="m",
                pipeline_version="1",
                processed_at=pa.scalar(0, pa.timestamp("us", "UTC")).as_py())


def _parts(tmp_path: Path, doc_ids: list[str], texts: dict[str, str] | None = None) -> TableParts:
    work = tmp_path / "work"
    rows = [_doc(d, (texts or {}).get(d, f"text of {d}")) for d in doc_ids]
    # as the clean stage writes them
    rows = [row | {"words_sha256": words_sha256(row["text"]), "text_minhash": text_minhash(row["text"])} for row in rows]
    documents = write_stage_output(pa.Table.from_pylist(rows, schema=CLEAN_DOCUMENTS), errors_table([]), Location(work), "stage", "docs")
    quotes = [dict(doc_id=doc_ids[-1], text="of", start_char=5, end_char=7, speaker=None, verb=None, partial=True)]
    # one quantity with its context from the entities stage, one without (the stage failed there)
    found = [dict(doc_id=doc_id, text="text", start_char=0, end_char=4, kind="count", value=1.0, approximate=False,
                  amount_id=0) for doc_id in doc_ids[:2]]
    contexts = [dict(doc_id=doc_ids[0], start_char=0, end_char=4, sentence_start=0, sentence_end=9, subject="text",
                     speaker="Acme")]
    entities = write_stage_output(ENTITIES.empty_table(), errors_table([]), Location(work), "stage", "ents",
                                  _entities_more(quotes, contexts))
    quantities = write_stage_output(pa.Table.from_pylist(found, schema=FOUND_QUANTITIES),
                                    errors_table([ErrorRecord("x.txt", "numbers", "boom", "m")]), Location(work), "stage", "qty")
    ingest_errors = write_arrow(errors_table([ErrorRecord("bad.pdf", "ingest", "unsupported_file_type", "m")]),
                                Location(work), "ingest.errors.arrow")
    files = [SourceFile(name, 1, "0") for name in sorted({f"{d}.txt" for d in doc_ids} | {"bad.pdf"})]
    sources = write_arrow(sources_table(files, {file.relpath: 1 for file in files}, {}), Location(work),
                          "ingest.sources.arrow")
    return TableParts([documents], [entities], [quantities], ingest_errors, n_inputs=len(set(doc_ids)) + 1,
                      sources_path=sources)


def _entities_more(quotations: list[dict], contexts: list[dict] = ()) -> dict[str, pa.Table]:
    """The entities stage's further tables, as it writes them."""
    return {"quantity_contexts": pa.Table.from_pylist(list(contexts), schema=QUANTITY_CONTEXTS),
            "quotations": pa.Table.from_pylist(quotations, schema=QUOTATIONS)}


def _publish(parts: TableParts, processed: Path) -> PublishedTables:
    return publish_tables(parts, str(processed), keep_snapshots=3, max_rows_per_file=1000)


def test_publish_tables_publishes_every_table_with_its_schema(tmp_path: Path):
    processed = tmp_path / "processed"
    published = _publish(_parts(tmp_path, ["b", "a"]), processed)
    assert published.rows == {"documents": 2, "entities": 0, "document_entities": 0, "quantities": 2,
                              "quotations": 1, "errors": 2}
    quantities = read_table(processed, "quantities").sort_by("doc_id").select(["doc_id", "subject", "speaker"])
    assert quantities.to_pylist() == [{"doc_id": "a", "subject": None, "speaker": None},
                                      {"doc_id": "b", "subject": "text", "speaker": "Acme"}]
    assert published.is_intact() and published.snapshot_id == 1
    for name, schema in PUBLISHED_TABLES.items():
        table = read_table(processed, name)
        assert table.drop_columns([MONTH]).schema.equals(schema, check_metadata=False)
        assert table.schema.field(0).metadata[b"description"]
    assert read_table(processed, "documents")["doc_id"].to_pylist() == ["a", "b"]
    assert {p.relative_to(processed).parts[0] for p in processed.rglob("*.parquet")} == {
        "_files", *PUBLISHED_TABLES}


def test_an_input_lost_between_stages_blocks_publishing(tmp_path: Path):
    parts = _parts(tmp_path, ["a", "b"])
    lost = TableParts(parts.documents, parts.entities, parts.quantities, parts.ingest_errors_path, n_inputs=4)
    with pytest.raises(AccountingError, match="4 inputs but 2 documents \\+ 1 rejections"):
        _publish(lost, tmp_path / "processed")


@pytest.mark.parametrize("damage", ["delete a table file", "add a file", "roll back"])
def test_published_tables_changed_since_the_write_are_not_intact(tmp_path: Path, damage: str):
    processed = tmp_path / "processed"
    _publish(_parts(tmp_path, ["a"]), processed)
    published = _publish(_parts(tmp_path, ["a", "b"]), processed)
    if damage == "delete a table file":
        next((processed / "entities").rglob("*.parquet")).unlink()
    elif damage == "add a file":
        (processed / "entities" / "extra.parquet").write_bytes(b"x")
    else:
        from tasks.snapshots import rollback
        from tasks.storage import Location

        rollback(Location(processed), 1, keep=3)
    assert not published.is_intact()


def test_duplicate_documents_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="duplicate doc_id"):
        _publish(_parts(tmp_path, ["a", "a"]), tmp_path / "processed")
    assert not (tmp_path / "processed" / "documents").exists()


def test_roll_up_entities_counts_mentions_per_canonical_entity():
    rows = [("d1", "Xi Jinping", "PERSON", 50), ("d1", "Xi Jinping", "PERSON", 10), ("d1", "Xi Jinping", "ORG", 5),
            ("d2", "Xi Jinping", "PERSON", 7), ("d1", "China", "GPE", 3), ("d1", "China", "GPE", 60)]
    entities = pa.Table.from_pylist(
        [dict(doc_id=d, text=c, label=label, start_char=start, end_char=start + 2, sentence=0, canonical=c,
              label_source="model", country_code="CN" if label == "GPE" else None)
         for d, c, label, start in rows], schema=ENTITIES)
    rolled = roll_up_entities(entities)
    assert rolled.schema.equals(DOCUMENT_ENTITIES, check_metadata=False)
    assert rolled.to_pylist() == [
        dict(doc_id="d1", canonical="China", label="GPE", mentions=2, first_start_char=3, country_code="CN"),
        dict(doc_id="d1", canonical="Xi Jinping", label="ORG", mentions=1, first_start_char=5, country_code=None),
        dict(doc_id="d1", canonical="Xi Jinping", label="PERSON", mentions=2, first_start_char=10, country_code=None),
        dict(doc_id="d2", canonical="Xi Jinping", label="PERSON", mentions=1, first_start_char=7, country_code=None),
    ]


def test_canonical_copy_is_the_smallest_source_and_nothing_is_dropped(tmp_path: Path):
    texts = {"c": STORY, "a": STORY.replace("Thursday", "Friday"), "b": "Another story entirely, about rain."}
    published = _publish(_parts(tmp_path, ["c", "b", "a"], texts), tmp_path / "processed")
    documents = read_table(tmp_path / "processed", "documents").to_pylist()
    assert [(row["doc_id"], row["duplicate_of"]) for row in documents] == [("a", None), ("b", None), ("c", "a")]
    assert published.rows["documents"] == 3 and published.n_rejected == 1  # accounting still holds


def test_flag_duplicates_scales_past_all_pairs():
    """2,000 distinct documents and 20 copies: linear in documents (LSH), not quadratic in pairs."""
    import time

    texts = [f"Report number {i}: " + " ".join(f"w{(i * 7919 + j * 104729) % 100003}" for j in range(60))
             for i in range(2000)]
    table = pa.Table.from_pylist([_doc(f"d{i:05}", text) for i, text in enumerate(texts + texts[:20])], schema=DOCUMENTS)
    started = time.process_time()
    flagged = flag_duplicates(table)["duplicate_of"].to_pylist()
    assert flagged == [None] * 2000 + [f"d{i:05}" for i in range(20)]
    assert time.process_time() - started < 20


def test_deciding_only_the_documents_linked_to_a_change_gives_what_a_full_run_gives(tmp_path: Path):
    """Before: z (canonical), c and d (copies of z), b, e. Then a is added (b nearly copies it and
    sorts after it) and z is deleted (c becomes canonical): the documents decided anew, with the
    others' values kept, equal a full run over the documents after."""
    rain = "Rain and wind swept the hills on Tuesday, and the roads to the coast stayed closed for hours."
    texts = {"a": STORY, "b": STORY.replace("Thursday", "Friday"), "c": rain, "d": rain, "z": rain,
             "e": "The league table did not change after the weekend's football, the coach told reporters."}

    def documents(doc_ids: list[str]) -> pa.Table:
        rows = [_doc(d, texts[d]) | {"source": f"{d if d != 'z' else '0'}.txt", "words_sha256": words_sha256(texts[d]),
                                     "text_minhash": text_minhash(texts[d])} for d in doc_ids]
        return pa.Table.from_pylist(rows, schema=CLEAN_DOCUMENTS).sort_by("source")

    def with_duplicate_of(table: pa.Table) -> pa.Table:
        prints = document_fingerprints(table)
        return prints.set_column(prints.schema.get_field_index("duplicate_of"), "duplicate_of",
                                 flag_duplicates(table)["duplicate_of"])

    before = with_duplicate_of(documents(["b", "c", "d", "e", "z"]))
    assert dict(zip(before["doc_id"].to_pylist(), before["duplicate_of"].to_pylist())) == {
        "z": None, "b": None, "c": "z", "d": "z", "e": None}
    location = Location(str(tmp_path))
    empty = StoredFingerprints(location, None)
    state = updated_buckets(empty, before.slice(0, 0), before, before.slice(0, 0), {})
    stored = StoredFingerprints(location, _snapshot_with_state(state))
    gone, new = before.filter(pc.equal(before["doc_id"], "z")), document_fingerprints(documents(["a"]))
    linked = linked_documents(pa.concat_tables([new, gone]), stored)
    assert sorted(linked["doc_id"].to_pylist()) == ["b", "c", "d"]  # not e: it shares no key with a change
    asked = []

    def texts_of(doc_ids: list[str]) -> list[str]:
        asked.extend(doc_ids)
        return [texts[d] for d in doc_ids]

    decided = decide_duplicates(linked, new, texts_of)
    kept = before.filter(pc.not_equal(before["doc_id"], "z"))
    after = {d: decided.get(d, old) for d, old in zip(kept["doc_id"].to_pylist(), kept["duplicate_of"].to_pylist())}
    after["a"] = decided["a"]
    full = flag_duplicates(documents(["a", "b", "c", "d", "e"]))
    assert after == dict(zip(full["doc_id"].to_pylist(), full["duplicate_of"].to_pylist()))
    assert after == {"a": None, "b": "a", "c": None, "d": "c", "e": None}
    assert "e" not in asked  # linked to nothing that changed: its text is not read


def _snapshot_with_state(state: dict[str, list[str]]) -> Snapshot:
    return Snapshot(1, "", "", "", {}, {name: [] for name in PUBLISHED_TABLES}, state, "", "")


def test_the_stored_fingerprints_change_only_in_the_buckets_a_change_touches(tmp_path: Path):
    """A bucket file holds its documents' rows; adding a document rewrites its file bucket and
    its keys' buckets, and keeps every other bucket's file."""
    location = Location(str(tmp_path))
    texts = {f"d{number}": f"Story {number}: " + " ".join(f"w{number}x{word}" for word in range(40))
             for number in range(40)}
    rows = [_doc(d, text) | {"words_sha256": words_sha256(text), "text_minhash": text_minhash(text)}
            for d, text in texts.items()]
    prints = document_fingerprints(pa.Table.from_pylist(rows, schema=CLEAN_DOCUMENTS))
    empty = prints.slice(0, 0)
    first = updated_buckets(StoredFingerprints(location, None), empty, prints, empty, {})
    stored = StoredFingerprints(location, _snapshot_with_state(first))
    assert sorted(stored.of_files(["d7.txt", "d9.txt"])["doc_id"].to_pylist()) == ["d7", "d9"]
    assert stored.sources_with_keys(document_keys(prints.slice(3, 1))["key"]) == {"d3.txt"}
    assert len(first["keys"]) > 20  # 26 keys a document, spread over 256 buckets

    text = "A new story about something else entirely, with words of its own and nothing shared."
    new = document_fingerprints(pa.Table.from_pylist(
        [_doc("n", text) | {"words_sha256": words_sha256(text), "text_minhash": text_minhash(text)}],
        schema=CLEAN_DOCUMENTS))
    second = updated_buckets(stored, empty, new, empty, {})
    for name, n_touched in (("fingerprints", 1), ("keys", len({key >> 56 for key in document_keys(new)["key"].to_pylist()}))):
        assert len(set(second[name]) - set(first[name])) == n_touched  # rewritten: the touched buckets only
        assert len(set(first[name]) - set(second[name])) <= n_touched
    after = StoredFingerprints(location, _snapshot_with_state(second))
    assert after.of_files(["n.txt"])["doc_id"].to_pylist() == ["n"]
    assert after.of_files(["d7.txt"])["doc_id"].to_pylist() == ["d7"]


def test_rows_are_spilled_to_their_documents_months_in_order(tmp_path: Path):
    doc_ids, months = pa.chunked_array([["a", "b", "c"]]), pa.chunked_array([["2021-01", "2021-02", "2021-01"]])
    batches = [pa.table({"doc_id": ["c", "b", None], "n": [1, 2, 3]}),  # None: an error about no document
               pa.table({"doc_id": ["a", "c", "x"], "n": [4, 5, 6]})]  # x: no such document
    spilled = spill_by_month(iter(batches), doc_ids, months, tmp_path / "entities")
    assert {month: read_arrow(path).to_pydict() for month, path in spilled.items()} == {
        "2021-01": {"doc_id": ["c", "a", "c"], "n": [1, 4, 5]},
        "2021-02": {"doc_id": ["b"], "n": [2]},
        "undated": {"doc_id": [None, "x"], "n": [3, 6]},
    }


def _added_parts(work: Path, doc_ids: list[str], removed: tuple[str, ...], base: int | None) -> TableParts:
    """What a run that read the files of `doc_ids` (and removed `removed`) hands the write stage."""
    rows = [_doc(d, f"text of {d}") for d in doc_ids]
    rows = [row | {"words_sha256": words_sha256(row["text"]), "text_minhash": text_minhash(row["text"])} for row in rows]
    documents = write_stage_output(pa.Table.from_pylist(rows, schema=CLEAN_DOCUMENTS), errors_table([]), Location(work), "stage", "docs")
    entities = write_stage_output(pa.Table.from_pylist(
        [dict(doc_id=d, start_char=0, end_char=4, sentence=0, text="Acme", label="ORG", canonical="Acme",
              label_source="model") for d in doc_ids],
        schema=ENTITIES), errors_table([]), Location(work), "stage", "ents", _entities_more([]))
    quantities = write_stage_output(FOUND_QUANTITIES.empty_table(), errors_table([]), Location(work), "stage", "qty")
    ingest_errors = write_arrow(errors_table([]), Location(work), "ingest.errors.arrow")
    files = [SourceFile(f"{d}.txt", 1, "0") for d in doc_ids]
    sources = write_arrow(sources_table(files, {file.relpath: 1 for file in files}, {}), Location(work),
                          "ingest.sources.arrow")
    return TableParts([documents], [entities], [quantities], ingest_errors, n_inputs=len(doc_ids),
                      sources_path=sources, removed=removed, base_snapshot=base)


def test_small_runs_add_a_file_each_rewrite_only_what_they_replace_and_are_compacted(tmp_path: Path):
    processed, month = tmp_path / "processed", Path("documents") / f"{MONTH}=undated"

    def month_files() -> set[str]:
        return {path.name for path in (processed / month).iterdir()}

    published = _publish(_added_parts(tmp_path / "run0", [f"old{n}" for n in range(50)], (), None), processed)
    counts = []
    for run in range(1, 21):
        before = month_files()
        published = _publish(_added_parts(tmp_path / f"run{run}", [f"new{run:02}"], (), published.snapshot_id),
                             processed)
        counts.append(len(month_files()))
        if counts[-1] > len(before):  # no compaction: the run added a file and rewrote none
            assert before < month_files() and len(month_files() - before) == 1
        assert published.rows["documents"] == 50 + run and published.rows["entities"] == 50 + run
    assert max(counts) == MAX_SMALL_FILES and min(counts) < MAX_SMALL_FILES  # merged along the way
    assert read_table(processed, "documents")["doc_id"].to_pylist() == sorted(
        [f"old{n}" for n in range(50)] + [f"new{run:02}" for run in range(1, 21)], key=lambda d: f"{d}.txt")

    before = month_files()
    published = _publish(_added_parts(tmp_path / "delete", [], ("old7.txt",), published.snapshot_id), processed)
    assert len(month_files() - before) == 1 and len(before - month_files()) == 1  # the file that held it
    assert published.rows["documents"] == 69 and "old7" not in read_table(processed, "documents")["doc_id"].to_pylist()
