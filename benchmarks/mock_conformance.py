"""How closely the mock answers real sessions: the conformance harness over recordings.

    python benchmarks/mock_conformance.py [--flavor openai|azure] [FILE.jsonl ...]

Without files, it runs the five recorded sessions of tests/fixtures/openai-realtime, and with
`--flavor azure` also the preview (beta) protocol session of tests/fixtures/azure-preview (a
preview recording meets a preview session under Azure, GA under OpenAI). For each
session it prints `match`, or the first divergence with the events around it, and any error the
mock sent that the service did not (see `inspector.mock.conformance`). Exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from inspector.mock.conformance_run import load_records, run_against_mock

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def main(args: argparse.Namespace) -> int:
    folders = ["openai-realtime"] + (["azure-preview"] if args.flavor == "azure" else [])
    paths = args.files or [p for folder in folders for p in sorted((FIXTURES / folder).glob("*.jsonl"))]
    differing = 0
    started = time.perf_counter()
    for path in paths:
        report = run_against_mock(path.stem, load_records(path), flavor=args.flavor)
        differing += not report.matches
        print(report.render())
    elapsed = time.perf_counter() - started
    print(f"{len(paths) - differing} of {len(paths)} sessions match ({elapsed:.2f} s)")
    return 1 if differing else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--flavor", choices=["openai", "azure"], default="openai")
    sys.exit(main(parser.parse_args()))
