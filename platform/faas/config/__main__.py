"""`python -m faas.config --markdown`: the README's table of variables, from the settings' declarations."""

from __future__ import annotations

import argparse
import sys

from .table import markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faas.config", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the table of FAAS_* variables (Markdown)")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help(sys.stderr)
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
