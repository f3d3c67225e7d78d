"""`python -m provenflow`: the same as the `provenflow` command."""

from __future__ import annotations

from provenflow.cli import main

if __name__ == "__main__":
    main(prog_name="provenflow")
