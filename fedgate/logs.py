"""structlog configuration: JSON lines in production, readable in a terminal.

Events carry request ids, agencies, purposes, statuses and durations, never
personal data values: callers log field *names* and identifier *kinds* only.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

__all__ = ["DroppingPrintLogger", "configure_logging"]


class DroppingPrintLogger(structlog.PrintLogger):
    """A ``PrintLogger`` that drops a line it cannot write (a full disk, a file-size limit, a
    closed pipe) instead of raising: a failing log must never turn a refusal into an error
    naming the OS, nor stop the request it was describing. Lines lost so are counted."""

    dropped = 0

    def msg(self, message: str) -> None:
        try:
            super().msg(message)
        except (OSError, ValueError):  # ValueError: the stream was closed
            DroppingPrintLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure_logging(*, level: str | None = None, json: bool | None = None) -> None:
    level_name = (level or os.environ.get("FEDGATE_LOG_LEVEL", "INFO")).upper()
    numeric = logging.getLevelNamesMapping().get(level_name, logging.INFO)
    if json is None:
        fmt = os.environ.get("FEDGATE_LOG_FORMAT", "")
        json = fmt == "json" or (fmt != "console" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: DroppingPrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
