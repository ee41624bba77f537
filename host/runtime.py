"""LiteRT interpreters, created with the runtime's own console messages sent to logging.

LiteRT's native code writes notes such as "INFO: Created TensorFlow Lite XNNPACK delegate
for CPU." straight to file descriptor 2 while an interpreter allocates its tensors, and no
setting silences them (TF_CPP_MIN_LOG_LEVEL does not reach that logger). So fd 2 points at
a temporary file while an interpreter is created, and each line the runtime wrote goes to
the `litert` logger at its own level: INFO notes show with `-v` (and in the browser-started
host's log), warnings and errors always.

Also here: numpy's BLAS kept on one thread once the host listens (`one_blas_thread`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

log = logging.getLogger("litert")

# fd 2 is one per process: two captures at once would restore each other's descriptor.
_capture_lock = threading.Lock()
_LEVELS = {"VERBOSE": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


_one_blas_thread = threading.Lock()
_blas_limited = False


def one_blas_thread() -> None:
    """numpy's BLAS on one thread from now on, for the whole process. OpenBLAS spreads a
    matrix-vector product of more than about 9,000 values over every core and its threads spin
    between calls: matching each 80 ms vector against a voice profile's templates kept a second
    core busy (a profile of long phrases: 14 -> 38 ms of CPU per second of audio), while
    listening is to cost one thread."""
    global _blas_limited
    with _one_blas_thread:
        if not _blas_limited:
            from threadpoolctl import threadpool_limits

            threadpool_limits(1, user_api="blas")
            _blas_limited = True


def create_interpreter(model_path: Path | str, num_threads: int):
    """A LiteRT `Interpreter` with its tensors allocated; raises what LiteRT raises."""
    from ai_edge_litert.interpreter import Interpreter  # ~0.1 s: load only when needed

    with native_stderr_to_log():
        interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
    return interpreter


@contextlib.contextmanager
def native_stderr_to_log():
    """Capture what native code writes to fd 2 meanwhile and log it line by line."""
    with _capture_lock:
        try:
            sink = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:  # no temporary directory or no fd 2: nothing to capture into or from
            yield
            return
        with sink:
            _flush_stderr()
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                for line in sink.read().decode("utf-8", "replace").splitlines():
                    if line.strip():
                        _log_line(line)


def _log_line(line: str) -> None:
    """'INFO: text' at INFO, and so on; a line without a known level is kept as a warning."""
    level, _, text = line.partition(": ")
    if level in _LEVELS and text:
        log.log(_LEVELS[level], "%s", text)
    else:
        log.warning("%s", line)


def _flush_stderr() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
