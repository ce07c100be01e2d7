"""Check terraform/*.tf against the google provider's real schema, offline.

`terraform validate` needs the provider binary, which cannot be downloaded here. The prebuilt
CDKTF bindings on PyPI (`cdktf-cdktf-provider-google`) are generated from the provider's own
schema and ship it as a jsii assembly: every resource and data source with its arguments
(required or optional) and nested blocks. This script reads that assembly straight from the
wheel (nothing is imported, so no Node.js or jsii runtime), keeps a compact copy in a cache, and
checks every resource, data source, nested block and `dynamic` block in terraform/ against it:

    python scripts/tf_schema_check.py            # exit 1 naming each unknown/missing argument
    python scripts/tf_schema_check.py --dir DIR  # another module

The wheel (about 50 MB) is fetched once with `pip download --no-deps` into
$XDG_CACHE_HOME/alertloop/tf-schema (default ~/.cache/...); later runs read the compact schema.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# 16.x of the bindings is hashicorp/google 6.x (versions.tf allows >= 6.0, < 8.0); the assembly
# names the exact provider version in every docs link.
PACKAGE = "cdktf-cdktf-provider-google"
VERSION = "16.12.1"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alertloop" / "tf-schema"

# Terraform's own meta-arguments, valid on every resource and data source
# (developer.hashicorp.com/terraform/language/meta-arguments).
META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner"})
_LINK = re.compile(r"/docs/(resources|data-sources)/\w+ (google_\w+)\}")
_ARG = re.compile(r"#(\w+) \w+#\w+\}")


@dataclass
class Block:
    """One resource's (or nested block's) schema: argument names and nested blocks."""

    required: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)
    blocks: dict[str, Block] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "required": sorted(self.required),
            "optional": sorted(self.optional),
            "blocks": {k: v.to_json() for k, v in sorted(self.blocks.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(
            set(data["required"]),
            set(data["optional"]),
            {k: cls.from_json(v) for k, v in data["blocks"].items()},
        )


Schema = dict[str, dict[str, Block]]  # "resource" | "data" -> type -> Block


# ---------------------------------------------------------------- the assembly -> schema


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _struct_of(t: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The struct (nested block) a property's type refers to, through lists and unions."""
    if "fqn" in t:
        target = types.get(t["fqn"], {})
        return t["fqn"] if target.get("kind") == "interface" and target.get("datatype") else None
    if "collection" in t:
        return _struct_of(t["collection"]["elementtype"], types)
    for member in t.get("union", {}).get("types", []):
        found = _struct_of(member, types)
        if found:
            return found
    return None


def _block(fqn: str, types: dict[str, Any], seen: tuple[str, ...] = ()) -> Block:
    block = Block()
    for prop in types[fqn].get("properties", []):
        m = _ARG.search(prop.get("docs", {}).get("remarks", ""))
        name = m.group(1) if m else _snake(prop["name"])
        struct = _struct_of(prop["type"], types)
        if struct and struct not in seen:
            block.blocks[name] = _block(struct, types, (*seen, fqn))
        (block.optional if prop.get("optional") else block.required).add(name)
    # Blocks are listed among the arguments above only to record required-ness.
    return block


def schema_from_assembly(assembly: dict[str, Any]) -> Schema:
    types = assembly["types"]
    out: Schema = {"resource": {}, "data": {}}
    for t in types.values():
        if t.get("kind") != "class" or t.get("base") not in (
            "cdktf.TerraformResource",
            "cdktf.TerraformDataSource",
        ):
            continue
        m = _LINK.search(t.get("docs", {}).get("summary", ""))
        if not m:
            continue
        kind = "resource" if m.group(1) == "resources" else "data"
        config = t["initializer"]["parameters"][2]["type"]["fqn"]
        out[kind][m.group(2)] = _block(config, types)
    return out


def _wheel() -> Path:
    wheels = sorted(CACHE.glob(f"{PACKAGE.replace('-', '_')}-{VERSION}-*.whl"))
    if wheels:
        return wheels[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"downloading {PACKAGE}=={VERSION} (once) into {CACHE}…", file=sys.stderr)
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
            *("--only-binary=:all:", "-d", str(CACHE), f"{PACKAGE}=={VERSION}"),
        ],
        check=True,
    )
    return sorted(CACHE.glob(f"{PACKAGE.replace('-', '_')}-{VERSION}-*.whl"))[0]


def load_schema() -> Schema:
    compact = CACHE / f"google-{VERSION}.json"
    if not compact.exists():
        with zipfile.ZipFile(_wheel()) as whl:
            name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(whl.read(name))) as tgz:
                member = tgz.extractfile("package/.jsii")
                assert member is not None
                schema = schema_from_assembly(json.load(member))
        data = {k: {t: b.to_json() for t, b in v.items()} for k, v in schema.items()}
        tmp = compact.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(compact)
    data = json.loads(compact.read_text())
    return {k: {t: Block.from_json(b) for t, b in v.items()} for k, v in data.items()}


# ---------------------------------------------------------------- the check


def _is_block(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value) and bool(value)


def _check_body(body: dict[str, Any], block: Block, where: str, meta: bool) -> list[str]:
    problems: list[str] = []
    present: set[str] = set()
    for key, value in body.items():
        if key.startswith("__"):
            continue  # python-hcl2's markers (__is_block__, comments)
        if meta and key in META:
            continue
        if key == "dynamic":
            for dyn in value:
                for name, spec in dyn.items():
                    if name.startswith("__"):
                        continue
                    name = name.strip('"')
                    present.add(name)
                    if name not in block.blocks:
                        problems.append(f"{where}: dynamic {name!r} is not a block here")
                        continue
                    for content in spec.get("content", []):
                        problems += _check_body(
                            content, block.blocks[name], f"{where}.{name}", meta=False
                        )
            continue
        present.add(key)
        if key in block.blocks and _is_block(value):
            for nested in value:
                problems += _check_body(nested, block.blocks[key], f"{where}.{key}", False)
        elif key in block.blocks:
            pass  # an object-valued argument (attribute syntax) for a nested type
        elif key in block.required | block.optional:
            if _is_block(value) and isinstance(value[0], dict) and value[0].get("__is_block__"):
                problems.append(f"{where}: {key!r} is an argument, not a block")
        else:
            problems.append(f"{where}: unknown argument or block {key!r}")
    if not any(k == "dynamic" for k in body):
        for name in sorted(block.required - present - {"id"}):
            problems.append(f"{where}: required argument {name!r} is missing")
    return problems


def check(tf_dir: Path, schema: Schema) -> list[str]:
    import hcl2  # python-hcl2, in the dev extras

    problems: list[str] = []
    for path in sorted(tf_dir.glob("*.tf")):
        with path.open() as fh:
            doc = hcl2.load(fh)
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    rtype = rtype.strip('"')
                    if rtype.startswith("__"):
                        continue
                    for name, body in named.items():
                        if name.startswith("__"):
                            continue
                        where = f"{path.name}: {kind} {rtype}.{name.strip(chr(34))}"
                        if rtype not in schema[kind]:
                            problems.append(f"{where}: the provider has no such {kind} type")
                            continue
                        problems += _check_body(body, schema[kind][rtype], where, meta=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "terraform")
    args = parser.parse_args(argv)
    schema = load_schema()
    problems = check(args.dir, schema)
    for p in problems:
        print(p)
    count = sum(1 for _ in args.dir.glob("*.tf"))
    if problems:
        print(f"{len(problems)} problem(s) against hashicorp/google ({PACKAGE} {VERSION})")
        return 1
    print(f"terraform schema: {count} files match hashicorp/google ({PACKAGE} {VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
