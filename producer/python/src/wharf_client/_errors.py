"""The one exception type of wharf_client, with the contract's stable codes.

Codes and their meaning are those of schemas/README.md and of the C library
(wharf_error.name): a caller that handles `broker_error` from C handles it
here the same way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

__all__ = ["WharfError", "BatchError", "CODES"]

# The stable codes a client can raise, with their numbers in wh_err.h.
CODES: Dict[str, int] = {
    "bad_envelope": 2,
    "too_large": 4,
    "unknown_type": 5,
    "bad_args": 6,
    "timeout": 7,
    "bad_config": 11,
    "broker_error": 12,
    "unroutable": 13,
    "redis_error": 14,
    "not_found": 15,
    "conflict": 16,
    "broker_blocked": 34,
}


class WharfError(Exception):
    """A failed call. `code` is a stable code name ("not_found"), `field`
    names the offending input ("type", "args.ms", "id") or is "", and the
    message is for humans (it never contains secrets).

    `last` is set by wait() on a timeout: the job as it was last read."""

    def __init__(self, code: str, message: str, field: str = "",
                 last: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.last = last

    @property
    def number(self) -> int:
        """The code's number, as in the C library (wharf_error.code)."""
        return CODES.get(self.code, 20)

    def __str__(self) -> str:
        return "%s (%s)" % (self.message, self.code)

    def __repr__(self) -> str:
        return "WharfError(%r, %r, field=%r)" % (self.code, self.message, self.field)


class BatchError(WharfError):
    """submit_many() where at least one job failed. The code and message
    are those of the first failure; `results` holds, for each job in order,
    its Submitted or its WharfError (jobs that succeeded are enqueued)."""

    def __init__(self, first: WharfError, results: List[Union[Any, WharfError]]) -> None:
        super().__init__(first.code, first.message, first.field)
        self.results = results
