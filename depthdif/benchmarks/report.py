"""Write one benchmark's markdown into its own marked section of BENCHMARKS.md.

Each script owns the text between `<!-- begin:NAME -->` and `<!-- end:NAME -->`, so reruns of
one benchmark never clobber another's figures.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from pathlib import Path

from depthdif.config.loader import atomic_write_text

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
HEADER = "# depthdif benchmarks\n\nEvery section below is written by the script it names; rerun it to refresh.\n"


def machine_line() -> str:
    import os

    return f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def update_section(name: str, markdown: str, path: str | Path = DEFAULT_PATH) -> Path:
    path = Path(path)
    text = path.read_text() if path.exists() else HEADER
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    return atomic_write_text(path, text)


def benchmark_parser(doc: str | None, quick_help: str) -> argparse.ArgumentParser:
    """The flags every benchmark shares: `--quick` (a smoke-sized run) and `--no-write`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    return parser


def publish(section: str, markdown: str, write: bool = True) -> None:
    """Print a benchmark's markdown and (unless told not to) store it in its BENCHMARKS.md section."""
    print(markdown)
    if write:
        print(f"updated {update_section(section, markdown)}", file=sys.stderr)
