"""Every place the local cloud leans on moto's internals, in one package.

Three kinds of patch, kept apart:

- **fidelity** (``s3``, ``stepfunctions``, ``item_reader``, ``item_batcher``, ``map_results``,
  ``express``, ``iam`` with ``policy`` and ``kms``, ``quotas``, ``map_redrive``, ``redrive`` and
  ``parsing``): where moto
  answers otherwise than AWS, AWS's answer. Each names the moto behaviour it works around and
  has a canary in ``tests/local/test_moto_adapter.py`` that runs moto's own code and fails when
  an upgrade fixes (or changes) it, so nothing is silently double-patched.
- **resources** (``leaks``): where moto keeps what it no longer needs (copies it never frees,
  temporary files it holds open); none changes an answer, each has a canary too.
- **speed** (``speed``): moto made faster where its cost grows with the sizes the pipeline
  reaches; none changes an answer, and ``bench/adapter_speed.py`` measures each against moto's
  own code.

Nothing here changes the workflow's logic.
"""

from __future__ import annotations

import threading

from filepipe.local.adapter import (
    express,
    iam,
    item_batcher,
    item_reader,
    leaks,
    map_redrive,
    map_results,
    parsing,
    quotas,
    redrive,
    s3,
    speed,
    stepfunctions,
)
from filepipe.local.adapter.express import execution_log_events
from filepipe.local.adapter.s3 import next_sequencer
from filepipe.local.adapter.stepfunctions import (
    abort_interrupted_executions,
    act_as_roles,
    exceeds_tolerance,
    gate_invocations,
)

_applied = False
_lock = threading.Lock()
FIDELITY = (
    s3,
    stepfunctions,
    item_reader,
    map_results,
    express,
    iam,
    quotas,
    map_redrive,
    redrive,
    parsing,
    item_batcher,
)
"""In this order: ``quotas`` wraps what ``s3`` and ``express`` installed, ``map_redrive`` the
Map Run that ``stepfunctions`` holds to its tolerance, and ``redrive`` the listing ``express``
refuses for an Express machine; ``item_batcher`` groups the items ``map_redrive`` keeps and counts
the children ``map_results`` records."""


def apply() -> None:
    """Install every patch (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        for module in FIDELITY:
            module.apply()
        leaks.apply()
        speed.apply()
        _applied = True


__all__ = [
    "abort_interrupted_executions",
    "act_as_roles",
    "apply",
    "exceeds_tolerance",
    "execution_log_events",
    "gate_invocations",
    "next_sequencer",
]
