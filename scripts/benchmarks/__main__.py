"""`python scripts/benchmarks [--help]`, which scripts/bench runs; or `python -m benchmarks` with scripts/ on the
path."""

import sys
from pathlib import Path

if not __package__:  # run as a directory: its parent makes the package importable by its name
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.main import main  # noqa: E402

sys.exit(main())
