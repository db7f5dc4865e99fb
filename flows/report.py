"""Run reports published as Prefect artifacts: what each stage did, and what the tables hold."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect.artifacts import create_markdown_artifact, create_table_artifact

STAGES = ["ingest", "clean", "entities", "numbers", "write"]
KEEP_NULLS = pc.ScalarAggregateOptions(skip_nulls=False)  # "first" means the first row's value


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


def summary_markdown(processed_dir: Path, accounting: tuple[int, int, int], top: int = 10) -> str:
    """Totals, money by currency in USD, the most mentioned entities and the error reasons."""
    quantities = pq.read_table(processed_dir / "quantities", columns=["doc_id", "amount_id", "kind", "currency", "value_usd"])
    entities = pq.read_table(processed_dir / "document_entities", columns=["canonical", "label", "mentions"])
    errors = pq.read_table(processed_dir / "errors", columns=["stage", "error_type"])
    n_inputs, n_documents, n_rejected = accounting
    lines = [
        "# newsflow run",
        "",
        f"**{n_documents} documents**, {n_rejected} rejected inputs ({n_inputs} inputs in all), "
        f"{entities.num_rows} distinct entities per document, {quantities.num_rows} quantities, "
        f"{errors.num_rows} error rows.",
        "",
        "## Money by currency",
        "",
        "Each amount once, in the currency the article states first (linked conversions are skipped).",
        "",
        "| currency | amounts | total in USD |",
        "|---|---|---|",
    ]
    money = quantities.filter(pc.equal(quantities["kind"], "money"))
    first_statements = money.group_by(["doc_id", "amount_id"], use_threads=False).aggregate(
        [("currency", "first", KEEP_NULLS), ("value_usd", "first", KEEP_NULLS)]
    ).rename_columns(["doc_id", "amount_id", "currency", "value_usd"])
    by_currency = first_statements.group_by("currency").aggregate([
        ("value_usd", "count", pc.CountOptions(mode="all")),
        ("value_usd", "sum", pc.ScalarAggregateOptions(min_count=0)),
    ])
    for row in sorted(by_currency.to_pylist(), key=lambda row: (-row["value_usd_sum"], str(row["currency"]))):
        lines.append(f"| {row['currency']} | {row['value_usd_count']} | {row['value_usd_sum']:,.0f} |")
    lines += ["", "## Top entities", "", "| entity | label | mentions |", "|---|---|---|"]
    totals = entities.group_by(["canonical", "label"]).aggregate([("mentions", "sum")])
    for row in sorted(totals.to_pylist(), key=lambda r: -r["mentions_sum"])[:top]:
        lines.append(f"| {row['canonical']} | {row['label']} | {row['mentions_sum']} |")
    lines += ["", "## Errors", ""]
    reasons = errors.group_by(["stage", "error_type"]).aggregate([("error_type", "count")]).to_pylist()
    lines += [f"- {r['stage']} / {r['error_type']}: {r['error_type_count']}" for r in reasons] or ["none"]
    return "\n".join(lines) + "\n"


def publish_run_report(processed_dir: Path, stage_table: list[dict], accounting: tuple[int, int, int]) -> None:
    """Create the run's table and markdown artifacts (shown on the flow run's page in the UI)."""
    create_table_artifact(key="newsflow-stages", table=stage_table,
                          description="Per stage: documents in, task runs computed and cached, rows written, errors")
    create_markdown_artifact(key="newsflow-summary", markdown=summary_markdown(processed_dir, accounting),
                             description="Totals, money by currency in USD, top entities, error reasons")
