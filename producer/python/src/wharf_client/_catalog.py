"""The job catalogue's per-type defaults, as the C library applies them.

A producer records a job's max_attempts as the job's own value, else its
type's default (common/catalog: runtime.stack.deploy, for one, runs once),
else the configuration's jobs.max_attempts; the worker applies the same
order. The defaults come from producer/job_types.json, which the C
catalogue generates (wharf-job-types) and a ctest keeps equal to its rows;
the package ships a copy made when it is built.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Dict, Mapping

__all__ = ["type_defaults", "max_attempts_for"]

FILE = "job_types.json"


@lru_cache(maxsize=1)
def type_defaults() -> Mapping[str, Mapping[str, int]]:
    """{type: {"max_attempts": n, "timeout_s": s}} for every catalogue row
    (0: the configuration's value)."""
    shipped = resources.files("wharf_client").joinpath(FILE)
    if shipped.is_file():
        text = shipped.read_text("utf-8")
    else:
        # Imported from a wharf checkout without a build (the repository's
        # own tests and benchmarks): the file is right there.
        text = (Path(__file__).resolve().parents[3] / FILE).read_text("utf-8")
    types: Dict[str, Mapping[str, int]] = json.loads(text)["types"]
    return types


def max_attempts_for(job_type: str, configured: int) -> int:
    """What a job of `job_type` that sets no max_attempts records: its
    type's default, else `configured` (jobs.max_attempts)."""
    row = type_defaults().get(job_type)
    return (row or {}).get("max_attempts") or configured
