"""Build the deploy bundle: root main.py, requirements.txt, and of functions/ and shared/ only
the modules the entry points import (followed through every import statement, those inside
functions too, since clients are imported lazily) plus the data files of those packages.
Operator tools (tune, replay, doctor, the CLI) and test stand-ins stay out.

The zip is reproducible (sorted entries, fixed timestamps), so its hash changes only when the
code does — Terraform names the uploaded object after that hash.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "main.py"
PACKAGES = ("functions", "shared")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def module_file(name: str) -> Path | None:
    """The file of an in-tree module `name` (dotted), or None for a third-party one."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """Every module an import statement in `path` may load (absolute names)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    return names


def files() -> list[Path]:
    seen: set[Path] = set()
    todo = [ROOT / ENTRY]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported(path):
            parts = name.split(".")
            # A module imports its packages' __init__ first.
            for i in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:i]))
                if found is not None and found not in seen:
                    todo.append(found)
    # Data the included packages read (the default policy, the diagnosis catalogue).
    data = {
        p
        for pkg in {f.parent for f in seen if f.name == "__init__.py"}
        for p in pkg.iterdir()
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json")
    }
    return sorted(seen | data | {ROOT / "requirements.txt"})


def build(out_dir: Path) -> Path:
    tree = out_dir / "bundle"
    shutil.rmtree(tree, ignore_errors=True)
    zpath = out_dir / "bundle.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files():
            rel = path.relative_to(ROOT)
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tree / rel)
            info = zipfile.ZipInfo(str(rel), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return zpath


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build"
    out.mkdir(parents=True, exist_ok=True)
    z = build(out)
    digest = hashlib.sha256(z.read_bytes()).hexdigest()[:16]
    print(f"{z} ({z.stat().st_size} bytes, sha256 {digest}); unpacked in {out / 'bundle'}")
