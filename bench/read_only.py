"""The floor for the worker benchmark: read an object's bytes exactly as the worker does, and
do nothing with them."""

from __future__ import annotations

import argparse
import io
import json

from filepipe.runtime import s3_client, settings
from filepipe.storage import MiB, RangeReader

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--object", required=True)
    ref = json.loads(parser.parse_args().object)
    reader = io.BufferedReader(
        RangeReader(
            s3_client(),
            ref["bucket"],
            ref["key"],
            size=int(ref["size"]),
            version_id=ref.get("versionId"),
            chunk_size=settings().read_chunk_size,
        ),
        buffer_size=MiB,
    )
    while reader.read(MiB):
        pass
