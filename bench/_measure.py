"""Run one command in this process and report its peak RSS: ``python _measure.py MODULE ARGS...``,
or ``MODULE:FUNCTION ARGS...`` to call ``FUNCTION(ARGS)`` (for an entrypoint whose ``__main__``
ends the process with ``os._exit``, as the worker's does).

A child per measurement, so each figure is that run's own high-water mark.
"""

from __future__ import annotations

import importlib
import json
import runpy
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    name, _, function = module.partition(":")
    entry = getattr(importlib.import_module(name), function) if function else None
    started = time.perf_counter()  # a function's module is imported first: its imports are not timed
    code = 0
    try:
        if entry is not None:
            code = int(entry(sys.argv[1:]) or 0)
        else:
            runpy.run_module(module, run_name="__main__")
    except SystemExit as exc:
        code = int(exc.code or 0)
    seconds = time.perf_counter() - started
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec from the (large)
    # parent that forked us, while VmHWM belongs to this program's own address space.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    measured = {"exit": code, "seconds": seconds, "peak_rss_mib": peak_kib / 1024}
    sniffer = sys.modules.get("filepipe.transforms._csv_dialect")
    if sniffer is not None:  # the worker sniffs in a child of its own, which exits before the parse
        measured["sniffer_peak_rss_mib"] = sniffer.child_peak_mib()
    print(json.dumps(measured), file=sys.stderr)
    sys.exit(code)
