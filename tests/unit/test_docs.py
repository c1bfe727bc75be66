"""The documentation cannot drift from the code it describes: every setting is in the settings
table with its default, and every link between the documents leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filepipe.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def settings_table() -> dict[str, str]:
    """Context key -> its row's default column, from docs/settings.md's table."""
    rows: dict[str, str] = {}
    for line in (ROOT / "docs" / "settings.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for key in re.findall(r"`([A-Za-z]+)`", cells[0]):
            rows[key] = cells[1]
    return rows


def test_every_setting_is_in_the_settings_table_and_nothing_else_is() -> None:
    documented = settings_table()
    known = {*Deployment.context_keys(), "stackName"}
    assert set(documented) == known, (
        f"missing: {sorted(known - set(documented))}, unknown: {sorted(set(documented) - known)}"
    )


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("largeFileThresholdBytes", "134217728"),
        ("transformMemoryMb", "2048"),
        ("batchMaxVcpus", "32"),
        ("logRetentionDays", "30"),
        ("triggerMaxConcurrency", "5"),
        ("queueMaxReceiveCount", "5"),
        ("sweepOlderThanMinutes", "60"),
        ("uploadAuth", "cognito"),
        ("smallFileWorkflow", "standard"),
    ],
)
def test_the_table_shows_each_default_as_the_code_has_it(key: str, shown: str) -> None:
    default = Deployment().context_values()[key]
    assert str(default) == shown, "the case names the code's default"
    row = settings_table()[key]
    assert shown in row.split(" / ")[_position(key)], f"{key}: the table says {row!r}, the code {default!r}"


def _position(key: str) -> int:
    """Where ``key``'s default stands in a row that documents two keys (``a`` / ``b``)."""
    for line in (ROOT / "docs" / "settings.md").read_text().splitlines():
        keys = re.findall(r"`([A-Za-z]+)`", line.split("|")[1]) if line.startswith("| `") else []
        if key in keys:
            return keys.index(key) if len(keys) == 2 else 0
    raise AssertionError(key)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(document: Path) -> None:
    broken = [
        target
        for target, _ in LINK.findall(document.read_text())
        if "://" not in target and not (document.parent / target).exists()
    ]
    assert broken == []
