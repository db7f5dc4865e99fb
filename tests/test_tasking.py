"""Tests for tasks/tasking.py: which faults a stage's task retries."""

from __future__ import annotations

import errno

import botocore.exceptions
import pytest

from tasks.tasking import retry_only_transient_errors


class FinishedState:
    """A task run's final state, as the retry condition sees it: its result raises `error`."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def result(self):
        if self.error is not None:
            raise self.error


@pytest.mark.parametrize(("error", "retried"), [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EBUSY, "Please reduce your request rate."), True),  # s3fs, after SlowDown
    (OSError(errno.EREMOTEIO, "We encountered an internal error."), True),  # s3fs, after HTTP 500
    (TimeoutError("read timed out"), True),
    (ConnectionResetError(errno.ECONNRESET, "reset"), True),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"), True),  # connection reset
    (botocore.exceptions.ConnectionClosedError(endpoint_url="http://s3"), True),  # closed without an answer
    (PermissionError("Access Denied"), False),
    (FileNotFoundError("The specified bucket does not exist"), False),
    (IsADirectoryError("raw/"), False),
    (ValueError("a bad document"), False),
    (None, False),
])
def test_transient_faults_are_retried_and_permanent_ones_are_not(error: BaseException | None, retried: bool):
    assert retry_only_transient_errors(None, None, FinishedState(error)) is retried
