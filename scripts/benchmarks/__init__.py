"""The benchmarks of the platform (main.py says which), one module per scenario or family of scenarios; they start
the platform with the tests' launcher (tests/launch.py), so tests/ goes on the path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
