"""Transforms: what the pipeline does to a file, the same code on Lambda and on Batch.

Adding one is a class with the :class:`Transform` interface and a line in
``filepipe/transforms/registry.py``::

    import json

    class LineCount:
        name = "line-count"
        version = "1"
        output_name = "lines.json"
        content_type = "application/json"

        def run(self, source, sink, info):
            count = sum(chunk.count(b"\\n") for chunk in iter(lambda: source.read(1 << 20), b""))
            sink.write(json.dumps({"lines": count}).encode())
            return {"lines": count}
"""

from filepipe.transforms._base import SourceInfo, Transform
from filepipe.transforms._csv_dialect import sniffing_in_a_child
from filepipe.transforms._csv_dialect import warm as warm_the_sniffer
from filepipe.transforms.csv_schemas import validate as validate_csv_schemas
from filepipe.transforms.registry import RULES, TRANSFORMS, transform_for

__all__ = [
    "RULES",
    "TRANSFORMS",
    "SourceInfo",
    "Transform",
    "sniffing_in_a_child",
    "transform_for",
    "validate_csv_schemas",
    "warm_the_sniffer",
]
