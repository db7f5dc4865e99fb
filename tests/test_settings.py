"""Settings (tasks/settings.py): what makes ingest read again."""

from __future__ import annotations

from tasks.settings import Settings, cache_version


def test_ingest_version_changes_with_every_setting_that_changes_what_ingest_reads():
    base = Settings()
    assert cache_version() in base.ingest_version()
    variants = [Settings(max_document_bytes=1000), Settings(folder_encodings=(("xinhua", "gb18030"),)),
                Settings(folder_encodings=(("xinhua", "big5"),))]
    versions = {base.ingest_version()} | {settings.ingest_version() for settings in variants}
    assert len(versions) == 4
    # Settings that do not change what ingest reads leave it alone.
    assert Settings(target_batch_size=8, cache_retention_hours=1).ingest_version() == base.ingest_version()
