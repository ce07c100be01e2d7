"""Write what is derived from the registries: docs/configuration.md's tables (from
shared/envvars.py) and terraform/locals.tf's function table and core env list (from
shared/registry.py, itself reading shared/envvars.py).

    python scripts/sync_registry.py          # rewrite docs/configuration.md, terraform/locals.tf
    python scripts/sync_registry.py --check   # exit 1 naming what is out of date

docs/configuration.md holds one table per section between ``<!-- envvars:SECTION -->`` and
``<!-- /envvars -->``; the prose around the tables is not touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import envvars, registry  # noqa: E402 - after the path is set

README = ROOT / "docs" / "configuration.md"  # the configuration tables
LOCALS = ROOT / "terraform" / "locals.tf"
_BLOCK = re.compile(
    r"(<!-- envvars:(?P<section>[a-z]+) -->\n)(?P<body>.*?)(<!-- /envvars -->)", re.S
)
_CORE_ENV = re.compile(r"  core_env = \[\n(?:    \"[A-Z0-9_]+\",\n)*  \]")


def _default(v: envvars.Var) -> str:
    if v.shown_default:
        return v.shown_default
    return f"`{v.default}`" if v.default else "empty"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def section_table(section: str) -> str:
    rows = [v for v in envvars.VARS if v.section == section]
    if not rows:
        raise SystemExit(
            f"docs/configuration.md names envvars section {section!r}, which has no variables"
        )
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for v in rows:
        name = f"`{v.name}`" + (" ★" if v.secret else "")
        lines.append(f"| {name} | {_cell(_default(v))} | {_cell(v.meaning)} |")
    return "\n".join(lines) + "\n"


def readme_text(text: str) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + section_table(m.group("section")) + m.group(4), text)


def readme_sections(text: str) -> list[str]:
    return [m.group("section") for m in _BLOCK.finditer(text)]


def _hcl_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def functions_block() -> str:
    rows = []
    for f in registry.FUNCTIONS:
        exposure = f"var.{f.name}_access" if f.exposure == "public" else f'"{f.exposure}"'
        topic = f'"{f.topic}"' if f.topic else "null"
        rows.append(
            f"""    {f.name} = {{
      kind              = "{f.kind}"
      topic             = {topic}
      publishes         = {_hcl_list(f.publishes)}
      env               = {_hcl_list(f.env)}
      secrets           = {_hcl_list(f.secrets)}
      memory            = "{f.memory}"
      timeout_seconds   = {f.timeout_seconds}
      max_instances     = {f.max_instances}
      exposure          = {exposure}
      uses_kubernetes   = {str(f.uses_kubernetes).lower()}
      uses_prometheus   = {str(f.uses_prometheus).lower()}
      delivery_attempts = {f.delivery_attempts}
    }}"""
        )
    return "  functions = {\n" + "\n".join(rows) + "\n  }\n"


def locals_text(text: str) -> str:
    start = text.index("  functions = {\n")
    end = text.index("\n  }\n", start) + len("\n  }\n")
    text = text[:start] + functions_block() + text[end:]
    core = "".join(f'    "{name}",\n' for name in registry.CORE_ENV)
    return _CORE_ENV.sub(f"  core_env = [\n{core}  ]", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, render in ((README, readme_text), (LOCALS, locals_text)):
        text = path.read_text()
        wanted = render(text)
        if wanted != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(wanted)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python scripts/sync_registry.py)")
        return 1
    for name in stale:
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
