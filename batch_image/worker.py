"""Batch worker: the large-file path's container entrypoint.

The job definition passes the object as JSON in ``FILEPIPE_OBJECT`` (the state input, set by
the state machine's container overrides) and the execution in ``FILEPIPE_EXECUTION``;
``--object``/``--execution`` do the same from the command line. Exit codes tell AWS Batch's
retry strategy what to do: 0 done, 75 (EX_TEMPFAIL) retry, 65 (EX_DATAERR) never retry.

When the job is stopped (TerminateJob, a timeout, a Spot reclaim) ECS sends SIGTERM and waits
before SIGKILL. The worker turns SIGTERM into an exception, so the output's multipart upload is
aborted rather than left behind, and exits 75. (As PID 1 in a container, a process without a
handler would not even see SIGTERM, and would be killed 30 seconds later.)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

from aws_lambda_powertools import Logger

from batch_image.job import EXIT_OK, EXIT_PERMANENT, EXIT_TRANSIENT
from filepipe.errors import PermanentError, TransientError, is_transient
from filepipe.events import ObjectRef
from filepipe.processing import process
from filepipe.reports import write_report
from filepipe.runtime import s3_client, settings
from filepipe.transforms import sniffing_in_a_child

logger = Logger(service="filepipe-worker")


class Terminated(BaseException):
    """The platform asked the job to stop (SIGTERM). Like KeyboardInterrupt it is no Exception,
    so that no ``except Exception`` on the way (botocore retries any exception raised while
    sending a request) can swallow it; ``with`` blocks still clean up on their way out."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"stopped by {signal.Signals(signum).name}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="filepipe-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--object", default=os.environ.get("FILEPIPE_OBJECT"), help="state input as JSON")
    parser.add_argument("--execution", default=os.environ.get("FILEPIPE_EXECUTION"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ref = ObjectRef.from_state(json.loads(args.object or ""))
    except (ValueError, TypeError) as exc:
        logger.error("no usable object reference", extra={"reason": str(exc), "object": args.object})
        return EXIT_PERMANENT
    logger.thread_safe_append_keys(key=ref.key, versionId=ref.version_id, execution=args.execution)
    try:
        with sniffing_in_a_child():  # one file per process: DuckDB stays out of the job's peak
            outcome = process(s3_client(), ref, settings(), args.execution)
    except Terminated as exc:
        logger.warning("stopped before the end; the output was not written", extra={"reason": str(exc)})
        return _report_failure(ref, exc, EXIT_TRANSIENT)
    except PermanentError as exc:
        logger.error("permanent failure", extra={"error": type(exc).__name__, "reason": str(exc)})
        return _report_failure(ref, exc, EXIT_PERMANENT)
    except TransientError as exc:
        logger.warning("transient failure", extra={"error": type(exc).__name__, "reason": str(exc)})
        return _report_failure(ref, exc, EXIT_TRANSIENT)
    except Exception as exc:
        if is_transient(exc):
            logger.warning("transient failure", extra={"reason": str(exc)})
            return _report_failure(ref, exc, EXIT_TRANSIENT)
        logger.exception("unexpected failure")
        return _report_failure(ref, exc, EXIT_PERMANENT)
    logger.info("transform done", extra=outcome.to_dict())
    _report(ref, outcome.to_dict())
    print(json.dumps(outcome.to_dict() | {"host": socket.gethostname(), "uid": os.getuid()}), flush=True)
    return EXIT_OK


def _report_failure(ref: ObjectRef, exc: BaseException, code: int) -> int:
    """Leave the error for the failure step, as a Lambda's error payload carries it; the exit
    code still tells Batch whether to try again."""
    _report(ref, {"status": "failed", "errorType": type(exc).__name__, "errorMessage": str(exc), "exitCode": code})
    return code


def _report(ref: ObjectRef, report: dict[str, object]) -> None:
    try:
        write_report(s3_client(), ref, settings(), report)
    except Exception:  # the exit code still says what happened; the report only says more
        logger.exception("could not leave the job's report")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _raise_terminated)
    code = main()
    # Exit with exactly this code: native thread pools (pyarrow's CSV read-ahead) can crash the
    # interpreter's teardown after an error, turning a permanent 65 into a signal.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
