"""`python3 -m provenflow.diagrams [PATH] [--check]`: write docs/lifecycles.md from the tables.

Run from the repository's root, it rewrites `docs/lifecycles.md` (or PATH) with
`lifecycle_docs()`. With `--check` it writes nothing and exits 1 when the file differs.
Exit status 2 when the file's folder does not exist (run it from the repository's root).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provenflow.diagrams._docs import REGENERATE, lifecycle_docs

DEFAULT = Path("docs") / "lifecycles.md"


def main(argv: list[str] | None = None) -> int:
    """Write (or with `--check`, compare) the lifecycle docs; return the exit status."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT, help=f"default: {DEFAULT}")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    options = parser.parse_args(argv)
    path: Path = options.path
    text = lifecycle_docs()
    if options.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            print(f"{path} is out of date with the lifecycle tables; run: {REGENERATE}")
            return 1
        print(f"{path} is up to date")
        return 0
    if not path.parent.is_dir():
        print(
            f"{path.parent} does not exist: run {REGENERATE} from the repository's root, or "
            "give the file to write",
            file=sys.stderr,
        )
        return 2
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
