"""Structured (one JSON object per line) logging.

Only fields passed explicitly through ``extra={"fields": {...}}`` are emitted beside the
message, so a request body, a password or a token can never end up in a log line by accident.
"""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # the exception's type and where it was raised, not its message or locals, which
            # could quote request data
            entry["error"] = record.exc_info[0].__name__
            tb = record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                entry["where"] = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        return json.dumps(entry, separators=(",", ":"), default=str)


def setup(level: str = "INFO") -> None:
    """Route the root logger and uvicorn's loggers to one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # uvicorn's access log prints the full request line; we log requests ourselves.
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_log_config() -> dict:
    """A log config for uvicorn.run that keeps our handlers instead of installing its own."""
    return {"version": 1, "disable_existing_loggers": False}
