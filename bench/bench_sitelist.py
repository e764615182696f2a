"""How long reading, filtering and sharding a million-line site list takes.

A million-site run is read, filtered and dealt into shards before the user is
asked to confirm it, so this must stay within a few seconds. The script writes
a Tranco-style CSV of a million real-looking domains (the shared sample
repeated with numbered prefixes), then times each step and prints the figures.
Run: `python bench/bench_sitelist.py [--lines 1000000]`.
"""

import argparse
import tempfile
import time
from pathlib import Path

from runner.sitelist import make_shards, read_site_list, select_sites

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "sites-sample.txt"
EXCLUDE = [".mil", ".gov.??", "arpa"]
CRAWLERS = 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    sample = [s for s in SAMPLE.read_text().split() if not s.startswith("#")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tranco.csv"
        with path.open("w") as f:
            for i in range(args.lines):
                f.write(f"{i + 1},s{i}-{sample[i % len(sample)]}\n")
        started = time.perf_counter()
        site_list = read_site_list(path)
        read = time.perf_counter()
        selected = select_sites(site_list.sites, args.lines, EXCLUDE)
        filtered = time.perf_counter()
        shards = make_shards(selected, CRAWLERS, seed=1)
        sharded = time.perf_counter()
    assert sum(len(s) for s in shards) == len(selected)
    print(f"{args.lines} lines ({site_list.kind}): {len(site_list.sites)} domains, "
          f"{len(site_list.skipped)} lines skipped, {len(selected)} selected")  # fmt: skip
    print(f"  read    {read - started:6.2f} s")
    print(f"  filter  {filtered - read:6.2f} s")
    print(f"  shard   {sharded - filtered:6.2f} s ({CRAWLERS} shards)")
    print(f"  total   {sharded - started:6.2f} s")


if __name__ == "__main__":
    main()
