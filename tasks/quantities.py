"""Quantities: the numbers stage's task. The grammar, the currency rules and the rows are in
tasks/numbers.py, which imports no Prefect."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task

from tasks.errors import errors_table
from tasks.fx import keep_parsed_history_in
from tasks.numbers import STAGE, extract_quantities
from tasks.schemas import FOUND_QUANTITIES, records_table
from tasks.stage_files import StageOutput, read_arrow, write_stage_output
from tasks.storage import Location
from tasks.tasking import STAGE_TASK_OPTIONS


@task(name="numbers", task_run_name="numbers {documents.label}", **STAGE_TASK_OPTIONS)
def numbers_task(documents: StageOutput, work_dir: str, default_fx_date: date | None, cache_version: str
                 ) -> StageOutput:
    """Money, percentages and counts of one batch of clean documents (the entities stage adds
    each one's sentence, subject and speaker, which the write stage joins in)."""
    work = Location(work_dir)
    keep_parsed_history_in(work, f"{STAGE}/fx")
    rows, errors = extract_quantities(
        read_arrow(documents.path, ["doc_id", "source", "text", "published_date"]).to_pylist(), default_fx_date)
    get_run_logger().info("found %d quantities in %d documents", len(rows), documents.n_rows)
    return write_stage_output(records_table(rows, FOUND_QUANTITIES), errors_table(errors), work, STAGE, documents.label)
