"""Write the committed seed JSON from the builders: `python -m smart_app.sandbox.seed.generate [--check]`.

Writes `bundles/<name>.bundle.json` for the sandbox user and every patient, and `cases.json`; removes bundle
files no builder produces. `--check` writes nothing and exits 1 when the committed files differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from smart_app.sandbox.seed.catalog import BUNDLE_DIR_NAME, acceptance_cases, bundle_filename, seed_bundles

SEED_DIR = Path(__file__).resolve().parent
BUNDLE_DIR = SEED_DIR / BUNDLE_DIR_NAME
CASES_FILE = SEED_DIR / "cases.json"


def to_json(document: Any) -> str:
    """The committed form: two-space indent, builder key order, UTF-8, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    files = {BUNDLE_DIR / bundle_filename(name): to_json(bundle) for name, bundle in seed_bundles()}
    files[CASES_FILE] = to_json(acceptance_cases())
    return files


def stale_files(expected: dict[Path, str]) -> list[Path]:
    """Files that are missing, differ, or are left over in bundles/."""
    differing = [path for path, text in expected.items() if not path.exists() or path.read_text("utf-8") != text]
    leftover = [path for path in sorted(BUNDLE_DIR.glob("*.json")) if path not in expected]
    return differing + leftover


def write_all(expected: dict[Path, str]) -> list[Path]:
    changed = stale_files(expected)
    BUNDLE_DIR.mkdir(exist_ok=True)
    for path in changed:
        if path in expected:
            path.write_text(expected[path], "utf-8")
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    expected = expected_files()
    if args.check:
        stale = stale_files(expected)
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    changed = write_all(expected)
    print(f"{len(expected)} files, {len(changed)} written or removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
