"""Fidelity patches: a Distributed Map's ItemReader reads S3 as Step Functions does (canaries in
``tests/local/test_moto_adapter.py``).

- ``listObjectsV2``: Step Functions iterates over every object under the prefix, and over none
  when there is none. moto's reader takes the first page of 1,000 only, and an empty listing
  (no ``Contents``) fails the Map with ``States.Runtime``.
- CSV (``getObject`` with ``InputType: CSV``): Step Functions parses by its own documented rules
  ("How Step Functions parses input CSV files"), not RFC 4180's: a backslash escapes a
  backslash, a double quote or the delimiter, and one before any other character is dropped;
  quotes are optional, and inside them ``""`` is a quote and delimiters and line breaks are
  text; a row with fewer fields than the header gets empty strings, one with more loses the
  extras. moto uses Python's ``csv`` module, which keeps every backslash, so a manifest that
  lost its backslashes in AWS passed locally. Empty lines are skipped here (Step Functions'
  documentation says nothing of them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as sfn_item_reader,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer import (
    transformer_csv,
)

_original_list_objects = sfn_item_reader.ResourceEvalS3._handle_list_objects_v2
_original_csv_body = transformer_csv.ResourceOutputTransformerCSV._eval_body


def parse_csv(text: str, delimiter: str = ",") -> Iterator[list[str]]:
    """The rows of ``text`` as Step Functions' CSV reader reads them."""
    reader = _CsvReader(text, delimiter)
    while reader.at < len(text):
        yield from reader.step()
    yield from reader.finish()


class _CsvReader:
    """One pass over the text: each :meth:`step` reads one character (or an escape) and yields
    the row a line break ends."""

    def __init__(self, text: str, delimiter: str) -> None:
        self.text, self.delimiter, self.at = text, delimiter, 0
        self.row: list[str] = []
        self.field: list[str] = []
        self.quoted = self.started = False

    def step(self) -> Iterator[list[str]]:
        char = self.text[self.at]
        if char == "\\" and self.at + 1 < len(self.text):
            following = self.text[self.at + 1]
            escapes = following in ("\\", '"', self.delimiter)
            if escapes:
                self.field.append(following)
            # Before any other character the backslash alone is dropped; that character is read.
            self.at, self.started = self.at + (2 if escapes else 1), True
        elif self.quoted:
            self._quoted(char)
        elif char in "\r\n":
            if char == "\r" and self.text.startswith("\n", self.at + 1):
                self.at += 1
            self.at += 1
            yield from self.finish()
        else:
            self._plain(char)

    def _quoted(self, char: str) -> None:
        if char == '"' and self.text.startswith('"', self.at + 1):
            self.field.append('"')
            self.at += 1
        elif char == '"':
            self.quoted = False
        else:
            self.field.append(char)
        self.at += 1

    def _plain(self, char: str) -> None:
        if char == '"':
            self.quoted = True
        elif char == self.delimiter:
            self.row.append("".join(self.field))
            self.field = []
        else:
            self.field.append(char)
        self.started = True
        self.at += 1

    def finish(self) -> Iterator[list[str]]:
        """The row read so far, if the line held anything (an empty line is no row)."""
        if self.started or self.field or self.row:
            yield [*self.row, "".join(self.field)]
        self.row, self.field, self.started = [], [], False


def _handle_list_objects_v2(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    s3 = sfn_item_reader.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    parameters = dict(env.stack.pop())
    contents: list[Any] = []
    while True:
        page = s3.list_objects_v2(**parameters)
        contents.extend(page.get("Contents", []))
        if not page.get("IsTruncated"):
            break
        parameters["ContinuationToken"] = page["NextContinuationToken"]
    env.stack.append(contents)


def _csv_body(self: Any, env: Any) -> None:
    """moto's CSV transformer (headers from the first row or given, duplicates refused, short
    rows padded), its rows read by :func:`parse_csv` instead of Python's ``csv``."""
    reader_config = env.stack.pop()
    rows = parse_csv(env.stack.pop())
    location = reader_config["CSVHeaderLocation"]
    if location == transformer_csv.CSVHeaderLocationOutput.FIRST_ROW:
        headers = next(rows, [])
    else:
        headers = list(reader_config["CSVHeaders"])
    if len(set(headers)) < len(headers):
        error = transformer_csv.StatesErrorName(typ=transformer_csv.StatesErrorNameType.StatesItemReaderFailed)
        raise transformer_csv.FailureEventException(
            failure_event=transformer_csv.FailureEvent(
                env=env,
                error_name=error,
                event_type=transformer_csv.HistoryEventType.TaskFailed,
                event_details=transformer_csv.EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                    mapRunFailedEventDetails=transformer_csv.MapRunFailedEventDetails(
                        error=error.error_name, cause="CSV headers cannot contain duplicates."
                    )
                ),
            )
        )
    items = []
    for row in itertools.islice(rows, reader_config["MaxItemsValue"]):
        items.append({header: row[i] if i < len(row) else "" for i, header in enumerate(headers)})
    env.stack.append(items)


def apply() -> None:
    sfn_item_reader.ResourceEvalS3._handle_list_objects_v2 = staticmethod(_handle_list_objects_v2)  # type: ignore[method-assign]
    transformer_csv.ResourceOutputTransformerCSV._eval_body = _csv_body  # type: ignore[method-assign]
