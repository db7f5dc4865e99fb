"""Run reports published as Prefect artifacts: what each stage did, and what the tables hold
(the write stage summarises the tables when it writes them: tasks/write.py)."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

STAGES = ["ingest", "clean", "entities", "numbers", "write"]


def stage_rows(computed: dict[str, int], cached: dict[str, int], rows: dict[str, int], n_documents_in: int,
               stage_errors: dict[str, int]) -> list[dict]:
    """One row per stage: documents in, task runs computed and cached, rows written, errors."""
    written = {"ingest": None, "clean": rows.get("documents"), "entities": rows.get("entities"),
               "numbers": rows.get("quantities"), "write": sum(rows.values())}
    return [
        {"stage": stage, "documents_in": n_documents_in, "computed": computed.get(stage, 0),
         "cached": cached.get(stage, 0), "rows_written": written[stage], "errors": stage_errors.get(stage, 0)}
        for stage in STAGES
    ]


def publish_run_report(stage_table: list[dict], summary: str) -> None:
    """Create the run's table and markdown artifacts (shown on the flow run's page in the UI)."""
    create_table_artifact(key="newsflow-stages", table=stage_table,
                          description="Per stage: documents in, task runs computed and cached, rows written, errors")
    create_markdown_artifact(key="newsflow-summary", markdown=summary,
                             description="Totals, money by currency in USD, top entities, error reasons")
