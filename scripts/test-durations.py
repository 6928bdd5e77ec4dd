#!/usr/bin/env python3
"""Write tests/durations.json (seconds per work unit, tests/scheduling.py) from a JUnit XML report:

    bash scripts/run-tests.sh -n 2 --dist loadfile -m "not production" --junitxml=/tmp/junit.xml
    .venv/bin/python scripts/test-durations.py /tmp/junit.xml

Only the order of the units follows from it (longest first); refresh it when a file's weight
changes a lot.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scheduling import DURATIONS, unit_of  # noqa: E402


def test_id(classname: str, name: str) -> str | None:
    """``tests.dags.test_dag_run``, ``test_x`` -> ``tests/dags/test_dag_run.py::test_x``;
    ``tests.x.test_y.TestZ``, ``test_a`` -> ``tests/x/test_y.py::TestZ::test_a``."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end]) + ".py"
        if (ROOT / path).is_file():
            return "::".join([path, *parts[end:], name])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("junit", type=Path)
    parser.add_argument("--out", type=Path, default=DURATIONS)
    args = parser.parse_args()
    units: dict[str, float] = {}
    for case in ET.parse(args.junit).getroot().iter("testcase"):
        nodeid = test_id(case.get("classname", ""), case.get("name", ""))
        if nodeid is None:
            continue
        unit = unit_of(nodeid)
        units[unit] = units.get(unit, 0.0) + float(case.get("time") or 0.0)
    ordered = {u: round(s, 1) for u, s in sorted(units.items(), key=lambda kv: -kv[1]) if s >= 0.5}
    args.out.write_text(json.dumps(ordered, indent=1) + "\n")
    print(f"{len(ordered)} units, {sum(ordered.values()):.0f} s in all -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
