"""The import rules of `.importlinter` (run by `make lint`) hold, and a back-edge breaks them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ["ajo", "groups", "contributions", "devtools", "bench"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The project's packages copied (tests and caches left out), so a test can add an edge."""
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            copy / package,
            ignore=shutil.ignore_patterns("tests", "__pycache__", "migrations"),
        )
    shutil.copy(ROOT / ".importlinter", copy / ".importlinter")
    return copy


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / ".importlinter"), "--no-cache"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_line(path: Path, line: str):
    original = path.read_text()
    path.write_text(original + f"\n{line}\n")
    return original


def test_the_rules_hold_on_the_tree_as_it_is(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("groups/selectors.py", "import contributions.models", "groups does not import"),
        ("ajo/contract/events.py", "import django.db", "Contract knowledge holds no ORM"),
        ("ajo/engine/rpc.py", "import devtools.simulate", "does not import dev tools"),
        ("ajo/fields.py", "import ajo.models", "Leaves"),
        ("ajo/chainreads.py", "import groups.models", "Layers:"),
        ("ajo/engine/loop.py", "import groups.runstate", "The engine imports no app"),
        ("ajo/engine/windows.py", "import ajo.contract.decode", "The engine imports no app"),
        ("groups/services.py", "import ajo.engine.apply", "One door per app"),
        ("contributions/totals.py", "import ajo.engine.registry", "register with the engine"),
    ],
)
def test_a_back_edge_fails_the_lint(tree, module, line, contract):
    path = tree / module
    original = with_line(path, line)
    try:
        result = lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in " ".join(broken.split())
