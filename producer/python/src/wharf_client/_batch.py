"""A submit's steps that do no I/O, shared by the sync and async clients:
check and encode each job, make the enqueue.lua calls, read their replies,
and turn the outcomes into submit_many()'s result."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _model as m
from ._catalog import max_attempts_for
from ._config import Options
from ._envelope import Job, Submitted, check_job, encode
from ._errors import BatchError, WharfError

Outcome = Union[Submitted, WharfError]
Encoded = Tuple[int, Dict[str, Any], bytes]   # (job index, envelope, body)


class Batch:
    """The jobs of one submit: `outs[i]` becomes job i's outcome."""

    def __init__(self, jobs: Sequence[Job], o: Options) -> None:
        self.outs: List[Optional[Outcome]] = [None] * len(jobs)
        self.encoded: List[Encoded] = []
        for i, job in enumerate(jobs):
            try:
                env = check_job(job)
                self.encoded.append((i, env, encode(env, o.max_body)))
            except WharfError as e:
                self.outs[i] = e
        now = int(time.time() * 1000)
        # A job without max_attempts records its type's default, else the
        # configuration's: the order of the C library and the worker.
        self.calls = [m.enqueue_call(o.prefix, env, body, max_attempts_for(env["type"], o.max_attempts), now)
                      for _, env, body in self.encoded]

    def fail_all(self, e: WharfError) -> None:
        """The enqueue round trip failed: every encoded job with it."""
        for i, _, _ in self.encoded:
            self.outs[i] = e

    def enqueued(self, replies: Sequence[Any]) -> List[Encoded]:
        """Record enqueue.lua's replies; returns the jobs to publish (new
        and queued: a scheduled job is published by the scheduler)."""
        to_publish = []
        for (i, env, body), rep in zip(self.encoded, replies):
            self.outs[i] = s = m.enqueue_result(rep)
            if s.created and s.state == "queued":
                to_publish.append((i, env, body))
        return to_publish

    def results(self) -> List[Outcome]:
        return [o if o is not None else WharfError("broker_error", "the job was not submitted") for o in self.outs]


def one(outs: List[Outcome]) -> Submitted:
    """submit()'s result: the job's Submitted, or its error raised."""
    if isinstance(outs[0], WharfError):
        raise outs[0]
    return outs[0]


def many(outs: List[Outcome]) -> List[Submitted]:
    """submit_many()'s result: every Submitted, or BatchError on a failure."""
    first = next((o for o in outs if isinstance(o, WharfError)), None)
    if first is not None:
        raise BatchError(first, list(outs))
    return [o for o in outs if isinstance(o, Submitted)]
