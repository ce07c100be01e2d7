"""Build the deploy bundle: root main.py, functions/, shared/, requirements.txt.

The zip is reproducible (sorted entries, fixed timestamps), so its hash changes only when the
code does — Terraform names the uploaded object after that hash.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ("main.py", "requirements.txt", "functions", "shared")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def files() -> list[Path]:
    out = []
    for item in INCLUDE:
        path = ROOT / item
        if path.is_file():
            out.append(path)
        else:
            out.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(out)


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
