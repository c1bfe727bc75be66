"""State that survives a restart: ``filepipe up --state DIR``.

moto keeps every service in memory and has no persistence of its own, so the services a user's
files live in (S3, SQS, Step Functions with each execution's history, the claims table, the
Express log groups, EventBridge, the upload page's users, KMS keys) are pickled into
``DIR/state.pickle`` when the local cloud stops and put back before it starts. IAM and STS are
made again at each start from the grants table, as a deploy would. What moto cannot pickle as is
(locks, an execution's worker thread, Cognito's RSA signing key) is pickled as what it would
be made anew from.

An execution that was running when the local cloud stopped cannot go on: its worker thread
is gone. It is ended ABORTED with the reason in its history (``adapter/stepfunctions.py``), so
``filepipe retry`` and the console's Redrive run its file again.

The file is a pickle: loading it runs whatever it says, so point ``--state`` only at a directory
of your own. It is written by the moto version installed; another version refuses it.
"""

from __future__ import annotations

import _thread
import io
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import moto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.cognitoidp.models import cognitoidp_backends
from moto.dynamodb.models import dynamodb_backends
from moto.events.models import events_backends
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import stepfunctions_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

FILE_NAME = "state.pickle"
FORMAT = 1
KEPT: dict[str, Any] = {
    "s3": s3_backends,
    "sqs": sqs_backends,
    "stepfunctions": stepfunctions_backends,
    "stepfunctions-engine": stepfunctions_parser_backends,
    "dynamodb": dynamodb_backends,
    "logs": logs_backends,
    "events": events_backends,
    "cognito-idp": cognitoidp_backends,
    "kms": kms_backends,
}
"""What a restart keeps, by service; IAM and STS are made again from the grants."""


class StateRefused(Exception):
    """The state directory holds something this local cloud cannot load."""


def _new_rlock() -> Any:
    return threading.RLock()


def _new_lock() -> Any:
    return threading.Lock()


def _no_thread() -> None:
    return None


def _private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


_RLOCK = type(threading.RLock())


class _Pickler(pickle.Pickler):
    """moto's models, with what cannot be pickled replaced by how to make it again."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _RLOCK):
            return _new_rlock, ()
        if isinstance(obj, _thread.LockType):
            return _new_lock, ()
        if isinstance(obj, threading.Thread):
            return _no_thread, ()
        if isinstance(obj, rsa.RSAPrivateKey):
            pem = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _private_key, (pem,)
        return NotImplemented


def save(directory: Path) -> Path:
    """Write the kept services to ``directory`` (made if missing), replacing what was there
    only once the whole file is written."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
        {"format": FORMAT, "moto": moto.__version__, "services": {name: _contents(b) for name, b in KEPT.items()}}
    )
    path = directory / FILE_NAME
    partial = path.with_suffix(".partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, path)
    return path


def load(directory: Path) -> bool:
    """Put the kept services back from ``directory``; False when it holds no state yet."""
    path = directory / FILE_NAME
    if not path.exists():
        return False
    with path.open("rb") as file:
        saved = pickle.load(file)  # the developer's own directory (see above)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise StateRefused(f"{path} is not a filepipe state file this version reads")
    if saved.get("moto") != moto.__version__:
        raise StateRefused(
            f"{path} was saved with moto {saved.get('moto')}, and moto {moto.__version__} is installed: "
            "start with another --state directory, or remove this one"
        )
    for name, backends in KEPT.items():
        _put_back(backends, saved["services"].get(name, {"backends": {}, "shared": {}}))
    return True


_CONSTRUCTED = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}
"""A BackendDict's own attributes, made by moto at import; the rest is state (S3's bucket_accounts,
which names the account of every bucket)."""


def _contents(backends: Any) -> dict[str, Any]:
    """A service's backends by account, and the state its BackendDict shares between accounts."""
    shared = {k: v for k, v in vars(backends).items() if k not in _CONSTRUCTED}
    return {"backends": dict(backends), "shared": shared}


def _put_back(backends: Any, contents: dict[str, Any]) -> None:
    """In place: moto's modules hold the BackendDict (and its shared dicts) by reference."""
    backends.clear()
    backends.update(contents["backends"])
    for name, value in contents["shared"].items():
        current = getattr(backends, name, None)
        if isinstance(current, dict) and isinstance(value, dict):
            current.clear()
            current.update(value)
        else:
            setattr(backends, name, value)
