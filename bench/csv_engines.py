"""One CSV-to-Parquet conversion, local file to local file, by one engine (run by
``bench/worker_memory.py`` in a child of its own, so that its peak RSS is its own).

    python -m bench.csv_engines --engine transform --csv in.csv --out out.parquet
    python -m bench.csv_engines --engine duckdb --threads 2 --compression zstd --csv in.csv --out out.parquet
    python -m bench.csv_engines --engine stages --csv in.csv --out out.parquet

``stages`` times the transform's three stages one after the other on one thread (cutting rows,
parsing and converting to the column types, encoding Parquet), holding the whole parsed file:
run it on a small CSV. Parsing runs on
every core and encoding on one, so the encoding rate is the transform's ceiling on many cores.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time

import duckdb as db

from filepipe.transforms import SourceInfo
from filepipe.transforms._csv_chunks import RowChunks, read_head
from filepipe.transforms._csv_dialect import data_start
from filepipe.transforms._csv_plan import Plan
from filepipe.transforms._csv_plan import sample_of as _sample
from filepipe.transforms.csv_to_parquet import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    MAX_CARRY,
    SAMPLE_SIZE,
    CsvToParquet,
    _Output,
    _Parser,
)


def transform(csv: str, out: str) -> None:
    with open(csv, "rb", buffering=0) as source, open(out, "wb") as sink:
        CsvToParquet().run(source, sink, SourceInfo(csv, os.path.getsize(csv)))


def stages(csv: str, out: str) -> dict[str, float]:
    """MB/s of each stage on one thread (detection, on the first 2 MiB, is not timed)."""
    with open(csv, "rb") as source:
        data = source.read()
    megabytes, rates = len(data) / 1e6, {}
    reader = io.BytesIO(data)
    head = read_head(reader, CHUNK_SIZE)
    plan = Plan.of(_sample(head, SAMPLE_SIZE, whole=len(head) < CHUNK_SIZE), csv, None)
    quote = plan.dialect.quote.encode() if plan.dialect.quote else None
    started = time.perf_counter()
    chunks = RowChunks(reader, CHUNK_SIZE, MAX_CARRY, head[data_start(head, plan.dialect) :], quote)
    pieces = list(chunks)
    rates["cut"] = megabytes / (time.perf_counter() - started)
    parser = _Parser(plan, BLOCK_SIZE)
    started = time.perf_counter()
    parsed = [parser.chunk(piece.data) for piece in pieces]
    rates["parse"] = megabytes / (time.perf_counter() - started)
    started = time.perf_counter()
    with open(out, "wb") as sink, _Output(sink, plan, "zstd") as output:
        for table in parsed:
            output.write(table)
    rates["encode"] = megabytes / (time.perf_counter() - started)
    return rates


def duckdb(csv: str, out: str, threads: int, compression: str) -> None:
    connection = db.connect(config={"threads": threads})
    codec = f", COMPRESSION {compression}" if compression != "default" else ""
    connection.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' (FORMAT parquet{codec})")


def main(argv: list[str]) -> int:
    """Import the engine first, then convert: ``_measure`` times the call, not the imports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["transform", "duckdb", "stages"], required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compression", default="zstd")
    args = parser.parse_args(argv)
    if args.engine == "transform":
        transform(args.csv, args.out)
    elif args.engine == "stages":
        print(json.dumps(stages(args.csv, args.out)))
    else:
        duckdb(args.csv, args.out, args.threads, args.compression)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(__import__("sys").argv[1:]))
