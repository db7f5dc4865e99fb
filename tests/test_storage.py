"""Tests for tasks/storage.py: stage output files, the run lock, the cache folder check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from tasks.storage import (
    RunLockedError, cache_in_use, ensure_private_folder, exclusive_run_lock, read_arrow, write_stage_output,
)
from tests.conftest import REPO

def test_a_second_run_on_the_same_folder_is_refused_with_the_holder_pid(tmp_path: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from tasks.storage import exclusive_run_lock\n"
         "with exclusive_run_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
         str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            with exclusive_run_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive_run_lock(tmp_path):  # the dead holder's lock file does not block
        pass


def test_only_a_run_alone_on_the_cache_may_sweep_it(tmp_path: Path):
    with cache_in_use(tmp_path) as try_exclusive:
        assert try_exclusive()
    with cache_in_use(tmp_path) as try_exclusive:
        with cache_in_use(tmp_path) as other_run_try_exclusive:  # another open file: another run
            assert not try_exclusive()
            assert other_run_try_exclusive()  # the first gave up its hold when it tried


def test_a_run_waits_while_another_sweeps_the_cache(tmp_path: Path):
    sweeper = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from tasks.storage import cache_in_use\n"
         "with cache_in_use(Path(sys.argv[1])) as try_exclusive:\n"
         "    assert try_exclusive(); print('sweeping', flush=True); time.sleep(1)\n"
         "    (Path(sys.argv[1]) / 'swept').touch()",
         str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert sweeper.stdout.readline().strip() == "sweeping"
        with cache_in_use(tmp_path):
            assert (tmp_path / "swept").exists()  # entered only once the sweeper had finished
    finally:
        sweeper.kill()
        sweeper.wait()


def test_cache_folder_must_not_be_writable_by_others(tmp_path: Path):
    fresh = tmp_path / "cache"
    ensure_private_folder(fresh)
    assert fresh.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="chmod go-w"):
        ensure_private_folder(shared)


def test_equal_tables_give_equal_stage_output_files_however_they_were_assembled(tmp_path: Path):
    # Downstream cache keys follow the files' hashes: a table assembled from pieces must hash as
    # it does when it was built in one piece.
    whole = pa.table({"doc_id": ["a", "b", "c", "d"], "n": [1, 2, 3, 4]})
    pieces = pa.concat_tables([whole.slice(0, 1), whole.slice(1, 2), whole.slice(3)])
    assert pieces.column("n").num_chunks == 3
    errors = pa.table({"doc_id": pa.array([], pa.string())})
    first = write_stage_output(whole, errors, tmp_path / "one", "batch")
    second = write_stage_output(pieces, errors, tmp_path / "two", "batch")
    assert first.content_sha256 == second.content_sha256 and second.is_intact()
    assert read_arrow(second.path).equals(whole) and read_arrow(second.path, ["n"]).column_names == ["n"]


def test_a_damaged_stage_output_is_not_intact(tmp_path: Path):
    output = write_stage_output(pa.table({"n": [1, 2, 3]}), pa.table({"n": pa.array([], pa.int64())}), tmp_path, "b")
    path = Path(output.path)
    path.write_bytes(path.read_bytes()[:-8])  # cut short, as by a power cut (stage outputs skip fsync)
    assert not output.is_intact()
