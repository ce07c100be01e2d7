"""The deploy bundle loads every entry point the way the Cloud Functions buildpack does:
functions-framework with only the bundle's folder on sys.path, no repo, no dev packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from shared.registry import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]

LOADER = """
import sys, json
from functions_framework import create_app
target, kind = sys.argv[1], sys.argv[2]
app = create_app(target, "main.py", kind)
import shared, functions
print(json.dumps({"shared": shared.__file__, "functions": functions.__file__,
                  "sandbox_loaded": "sandbox" in sys.modules}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_bundle.py"), str(out)],
        check=True,
        capture_output=True,
    )
    unpacked = out / "unzipped"
    with zipfile.ZipFile(out / "bundle.zip") as zf:
        zf.extractall(unpacked)
    return unpacked


def test_bundle_holds_exactly_the_deployable_tree(bundle: Path) -> None:
    top = sorted(p.name for p in bundle.iterdir())
    assert top == ["functions", "main.py", "requirements.txt", "shared"]
    assert (bundle / "shared" / "policy_default.yaml").exists()
    assert not list(bundle.rglob("__pycache__"))


def test_bundle_leaves_out_operator_tools_and_stand_ins(bundle: Path) -> None:
    """Only what the entry points import ships: tune, replay, doctor and the CLI run on an
    operator's machine, and the in-memory ledger is for tests."""
    shipped = {str(p.relative_to(bundle)) for p in bundle.rglob("*.py")}
    for tool in ("shared/cli.py", "shared/doctor.py", "shared/ledger/memory.py"):
        assert tool not in shipped
    assert not [p for p in shipped if p.startswith(("shared/tune/", "shared/replay/"))]
    assert "shared/ledger/runs.py" in shipped and "functions/interact.py" in shipped
    assert (bundle / "shared" / "investigation" / "catalogue.yaml").exists()


IMPORT_ALL = """
import sys, pathlib
root = pathlib.Path.cwd()
sys.path.insert(0, str(root))
for path in sorted(root.rglob("*.py")):
    parts = path.relative_to(root).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    __import__(name)
print("ok", "sandbox" in sys.modules)
"""


def test_every_shipped_module_imports_from_the_bundle_alone(bundle: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_ALL],
        cwd=bundle,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(bundle)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", "False"]


def test_bundle_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_bundle.py"), str(d)],
            check=True,
            capture_output=True,
        )
    assert (a / "bundle.zip").read_bytes() == (b / "bundle.zip").read_bytes()


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_entry_point_loads_from_the_bundle(bundle: Path, spec) -> None:
    # -I: isolated mode, so neither the repo nor PYTHONPATH leak in; the bundle dir is added by
    # functions-framework itself (it puts the source file's folder on sys.path).
    proc = subprocess.run(
        [sys.executable, "-I", "-c", LOADER, spec.name, spec.kind],
        cwd=bundle,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(bundle)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["shared"].startswith(str(bundle)), info
    assert info["functions"].startswith(str(bundle)), info
    assert info["sandbox_loaded"] is False
