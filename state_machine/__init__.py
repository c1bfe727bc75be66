"""The workflow: one ASL file, its placeholders, and a renderer for the local cloud.

CDK fills the placeholders with ``definition_substitutions`` (``stack/workflow.py``); the local
cloud fills the same ones with :func:`render`. Only ARNs, names and numbers are substituted:
the logic is the file's, everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).with_name("definition.asl.json")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def template() -> str:
    """The definition's text, placeholders and all."""
    return DEFINITION_PATH.read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    """The ``${Name}`` placeholders the definition uses."""
    return set(_PLACEHOLDER.findall(template() if text is None else text))


def render(values: dict[str, str | int]) -> dict[str, Any]:
    """Fill every placeholder (exactly those, no more, no fewer) and parse the result."""
    text = template()
    wanted = placeholders(text)
    missing, extra = wanted - values.keys(), values.keys() - wanted
    if missing or extra:
        raise ValueError(f"placeholders missing: {sorted(missing)}, unknown: {sorted(extra)}")
    rendered = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    return dict(json.loads(rendered))
