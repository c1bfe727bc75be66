"""README's commands, run as a user runs them, so README cannot drift from what works.

Every line of README.md's ``bash`` blocks is one command, and each is proved one way:

- ``.venv/bin/filepipe up ...`` starts the local cloud (on a free port instead of 4566), in the
  background, until the test ends;
- ``npx cdk deploy ARGS`` synthesizes the app with the same ``-c`` context, as ``cdk deploy``
  runs it (``CDK_CONTEXT_JSON``; deploying needs an account);
- ``make TARGET`` must be a target whose recipe resolves (``make -n``: ``make test`` would run
  this test, and ``make demo`` is ``filepipe demo``, which ``test_cli`` runs);
- ``npx cdk bootstrap`` needs an account and is listed in :data:`NEEDS_AN_ACCOUNT`;
- everything else runs in one shell, in order, in a fresh directory that has the project's
  ``.venv``, against that local cloud. A command must exit 0, or the status its comment states
  (``# exits 1: ...``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.local.helpers import free_port

pytestmark = pytest.mark.local
ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
EXITS = re.compile(r"^\s*exits (\d+)")
NEEDS_AN_ACCOUNT = {"npx cdk bootstrap": "makes CDK's bucket, repository and roles in an account"}
EXPECTED_OUTPUT = {
    "filepipe upload --wait cities.csv": "archived",
    "filepipe ls": "originals",
    "filepipe why cities.csv": "archived",
    "filepipe upload --wait broken.csv": "failed",
    "filepipe why broken.csv": "Expected 2 columns, got 3",
    "filepipe backfill --prefix imports/": "0 listed",
}
"""What a command's output must show (a substring), where README says what it shows."""


@dataclass(frozen=True)
class Command:
    text: str
    """The command as README shows it, continuation lines joined, its comment removed."""
    exits: int

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)


def readme_commands() -> list[Command]:
    commands = []
    for block in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            text, _, comment = line.partition("  #")
            exits = EXITS.search(comment)
            commands.append(Command(text.strip(), int(exits.group(1)) if exits else 0))
    return commands


COMMANDS = readme_commands()


def kind(command: Command) -> str:
    words = command.words
    if words[:2] == [".venv/bin/filepipe", "up"]:
        return "up"
    if words[:3] == ["npx", "cdk", "deploy"]:
        return "deploy"
    if words[0] == "make":
        return "make"
    if " ".join(words[:3]) in NEEDS_AN_ACCOUNT:
        return "account"
    return "shell"


def test_readme_shows_what_these_tests_prove() -> None:
    kinds = {kind(c) for c in COMMANDS}
    assert {"up", "deploy", "make", "shell"} <= kinds, kinds
    assert [c.text for c in COMMANDS if kind(c) == "account"] == list(NEEDS_AN_ACCOUNT), "each is still in README"
    assert set(EXPECTED_OUTPUT) <= {c.text for c in COMMANDS}, "every expectation names a README command"


@pytest.mark.parametrize("command", [c for c in COMMANDS if kind(c) == "make"], ids=lambda c: c.text)
def test_a_make_target_readme_names_exists(command: Command) -> None:
    target = command.words[1]
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.infra
@pytest.mark.parametrize("command", [c for c in COMMANDS if kind(c) == "deploy"], ids=lambda c: c.text)
def test_a_deploy_readme_shows_synthesizes(command: Command, tmp_path: Path) -> None:
    words = command.words
    context = dict(words[i + 1].split("=", 1) for i, word in enumerate(words) if word in ("-c", "--context"))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=os.environ | {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    templates = list(tmp_path.glob("*.template.json"))
    assert len(templates) == 1, "one stack"
    assert "AWS::StepFunctions::StateMachine" in templates[0].read_text()


@pytest.fixture
def local_cloud(tmp_path: Path) -> Iterator[str]:
    """``filepipe up`` as README starts it, on a free port; its endpoint."""
    (up,) = [c for c in COMMANDS if kind(c) == "up"]
    port = free_port()
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    process = subprocess.Popen(
        [*up.words, "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    banner = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if "Ctrl-C stops" in line:
                break
        assert process.poll() is None, "".join(banner)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()


def test_every_other_readme_command_runs_against_the_local_cloud(local_cloud: str, tmp_path: Path) -> None:
    commands = [c for c in COMMANDS if kind(c) == "shell"]
    port = local_cloud.rsplit(":", 1)[1]
    script = []
    for number, command in enumerate(commands):
        script += [f"echo '@@begin {number}'", command.text.replace("127.0.0.1:4566", f"127.0.0.1:{port}")]
        script += [f'echo "@@end {number} $?"']
    began = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=_user_environment() | {"FILEPIPE_ENDPOINT": local_cloud},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    outputs = dict(re.findall(r"@@begin (\d+)\n(.*?)@@end \1 ", result.stdout, re.S))
    statuses = dict(re.findall(r"@@end (\d+) (\d+)", result.stdout))
    for number, command in enumerate(commands):
        shown = outputs.get(str(number), "")
        assert str(number) in statuses, f"{command.text!r} never ended:\n{result.stdout[-3000:]}"
        assert int(statuses[str(number)]) == command.exits, f"{command.text!r} exited {statuses[str(number)]}:\n{shown}"
        if command.text in EXPECTED_OUTPUT:
            assert EXPECTED_OUTPUT[command.text] in shown, f"{command.text!r} printed:\n{shown}"
        assert "Traceback" not in shown, f"{command.text!r}:\n{shown}"
    assert time.monotonic() - began < 900


def _user_environment() -> dict[str, str]:
    """A user's shell: no AWS credentials or endpoint of the developer's own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FILEPIPE_"))}
