"""The long fuzzing run: N generated inputs per parser of outside input, zero crashes wanted.

    .venv/bin/python benchmarks/fuzz.py [--per-parser 10000] [--seed 1] [--only feeds ...]
                                        [--crash-dir DIR] [--json]

Parsers (tests/fuzz/harness.py): HTML extraction, RSS/Atom feeds, sitemaps, robots.txt as the
crawler uses it, the sources file, the watches file, search-request building. A crash is any
exception other than the parser's own error for bad input. Prints inputs, the parser's own
errors, crashes and seconds per parser; crashing inputs go to ``--crash-dir`` (one file each,
to become regression cases). Exit status 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fuzz.harness import Result, targets  # noqa: E402


def _save_crashes(result: Result, crash_dir: Path) -> None:
    crash_dir.mkdir(parents=True, exist_ok=True)
    for i, crash in enumerate(result.crashes):
        data = crash.data if isinstance(crash.data, bytes) else json.dumps(crash.data, default=str).encode()
        (crash_dir / f"{result.target}-{i:04d}.input").write_bytes(data)
        (crash_dir / f"{result.target}-{i:04d}.txt").write_text(crash.error, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-parser", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="parsers to run (default: all)")
    parser.add_argument("--crash-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    # The parsers log every bad input they skip; thousands of warnings are noise here.
    logging.disable(logging.CRITICAL)

    rows: list[dict[str, Any]] = []
    for name, target in targets().items():
        if args.only and name not in args.only:
            continue
        result = target.run(args.per_parser, seed=args.seed)
        if args.crash_dir is not None and result.crashes:
            _save_crashes(result, args.crash_dir)
        kinds = sorted({c.error.strip().splitlines()[-1][:120] for c in result.crashes})
        rows.append(
            {
                "parser": name,
                "inputs": result.inputs,
                "own_errors": result.expected_errors,
                "crashes": len(result.crashes),
                "seconds": round(result.seconds, 1),
                "crash_kinds": kinds,
            }
        )
        if not args.json:
            print(
                f"{name:10s} inputs={result.inputs:6d} own_errors={result.expected_errors:6d} "
                f"crashes={len(result.crashes):4d} {result.seconds:7.1f}s",
                flush=True,
            )
            for kind in kinds[:5]:
                print(f"{'':10s} crash: {kind}")
    if args.json:
        print(json.dumps({"per_parser": args.per_parser, "seed": args.seed, "parsers": rows}, indent=2))
    else:
        total = sum(r["crashes"] for r in rows)
        print(f"total: {sum(r['inputs'] for r in rows)} inputs, {total} crashes")
    return 1 if any(r["crashes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
