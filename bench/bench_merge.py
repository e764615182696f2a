"""Merge benchmark: time and peak memory of `merge_files` next to the floor, on real data.

Two input sets: the four shared Badger Sett results files, and 100 shard files
cut from them (25 per file, by site, the way a real shard's results look: each
shard holds only the trackers, action_map entries and fingerprinting scripts
that its own sites gave). The floor is what no merge can avoid: parsing the
same inputs and writing the two outputs with the same formatting (standard
`json.dumps(indent=2, sort_keys=True)`, the same write-then-rename). Each
figure comes from a fresh child process; times are the best of REPEATS runs,
with the median in brackets; peak memory is tracemalloc's peak of everything
the step allocates (Privacy Badger data included), next to the total input size.

    python bench/bench_merge.py [--repeats N] [--keep DIR]

Targets (issue 4): merge at most 3x the floor, peak memory at most 4x the input.
"""

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO.parent / "shared" / "data" / "badger-sett"
BRANCH = "mv3-chrome"
SHARDS_PER_FILE = 25
REPEATS = 5
ROUNDS = 2
SEED = 4
TIME_TARGET = 3.0
MEMORY_TARGET = 4.0


# -- inputs -------------------------------------------------------------------------


def cut_into_shards(source: Path, shards: int, out_dir: Path, pb_data) -> list[Path]:
    """Shard files of one scan, each with what its own sites gave."""
    from runner.merge import base_domain

    data = json.loads(source.read_text())
    sites = sorted({site for found in data["snitch_map"].values() for site in found})
    random.Random(SEED).shuffle(sites)
    shard_of_site = {site: number % shards for number, site in enumerate(sites)}

    def claimed(name: str, number: int, snitch_map: dict) -> bool:
        base = base_domain(name, pb_data)
        if base in data["snitch_map"]:
            return base in snitch_map
        # Entries no tracker claims still come from exactly one shard.
        return zlib.crc32(name.encode()) % shards == number

    paths = []
    for number in range(shards):
        snitch_map = {}
        for tracker, found in data["snitch_map"].items():
            mine = [site for site in found if shard_of_site[site] == number]
            if mine:
                snitch_map[tracker] = mine
        tracking_map = {}
        for tracker, per_site in data.get("tracking_map", {}).items():
            mine = {s: t for s, t in per_site.items() if shard_of_site.get(s) == number}
            if mine:
                tracking_map[tracker] = mine

        shard = {
            "action_map": {
                d: e for d, e in data["action_map"].items() if claimed(d, number, snitch_map)
            },
            "fp_scripts": {
                h: p
                for h, p in data.get("fp_scripts", {}).items()
                if claimed(h, number, snitch_map)
            },
            "snitch_map": snitch_map,
            "tracking_map": tracking_map,
            "version": data["version"],
        }
        path = out_dir / f"{source.stem}-shard{number + 1:03d}.json"
        path.write_text(json.dumps(shard, indent=2, sort_keys=True, separators=(",", ": ")))
        paths.append(path)
    return paths


# -- what a child process measures ----------------------------------------------------


def child_merge(inputs: list[Path], out_dir: Path, repeats: int) -> dict:
    from runner.merge import load_pb_data, merge_files

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        merge_files(inputs, out_dir, pb_data=load_pb_data(None, BRANCH))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    tracemalloc.start()
    merge_files(inputs, out_dir, pb_data=load_pb_data(None, BRANCH))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"times": times, "cpu": cpu, "peak": peak, "rss_growth": rss_growth}


def child_floor(inputs: list[Path], out_dir: Path, repeats: int) -> dict:
    from runner.fsutil import atomic_write_text

    # The outputs of the merge are what the floor writes; loading them is not timed.
    outputs = {
        name: json.loads((out_dir / name).read_text())
        for name in ("results.json", "results-noblocking.json")
    }
    floor_dir = out_dir / "floor"

    def floor(outputs):
        for path in inputs:
            json.loads(path.read_text())
        for name, value in outputs.items():
            atomic_write_text(floor_dir / name, json.dumps(value, indent=2, sort_keys=True))

    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        floor(outputs)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    for name in outputs:
        same = (floor_dir / name).read_bytes() == (out_dir / name).read_bytes()
        assert same, f"floor output {name} differs from the merge output"
    outputs_size = sum(len(json.dumps(v)) for v in outputs.values())
    del outputs
    tracemalloc.start()
    for path in inputs:
        json.loads(path.read_text())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"times": times, "cpu": cpu, "peak_parse": peak, "outputs_size": outputs_size}


def run_child(kind: str, inputs: list[Path], out_dir: Path, repeats: int) -> dict:
    listing = out_dir / "inputs.txt"
    listing.write_text("\n".join(map(str, inputs)))
    command = [sys.executable, __file__, "--child", kind, str(listing), str(out_dir)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


# -- the report -----------------------------------------------------------------------


def measure_set(label: str, inputs: list[Path], work: Path, repeats: int) -> dict:
    out_dir = work / label.split()[0]
    out_dir.mkdir()
    merge_times, floor_times, merge_cpu, floor_cpu = [], [], [], []
    for _ in range(ROUNDS):
        merged = run_child("merge", inputs, out_dir, repeats)
        floored = run_child("floor", inputs, out_dir, repeats)
        merge_times += merged["times"]
        floor_times += floored["times"]
        merge_cpu += merged["cpu"]
        floor_cpu += floored["cpu"]
        peak = merged["peak"]
        rss_growth = merged["rss_growth"]
    size = sum(path.stat().st_size for path in inputs)
    sizes = sorted(path.stat().st_size for path in inputs)
    return {
        "label": label,
        "files": len(inputs),
        "size": size,
        "sizes": (sizes[0], statistics.median(sizes), sizes[-1]),
        "merge": (min(merge_times), statistics.median(merge_times), min(merge_cpu)),
        "floor": (min(floor_times), statistics.median(floor_times), min(floor_cpu)),
        "peak": peak,
        "rss_growth": rss_growth,
        "floor_peak": floored["peak_parse"],
    }


def print_report(rows: list[dict], repeats: int) -> None:
    mb = 1e6
    print(
        f"merge benchmark: Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"best of {repeats * ROUNDS} runs [median], Privacy Badger data {BRANCH} snapshot, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    for row in rows:
        merge_best, merge_median, merge_cpu = row["merge"]
        floor_best, floor_median, floor_cpu = row["floor"]
        low, mid, high = row["sizes"]
        print(
            f"\n{row['label']}: {row['files']} files, {row['size'] / mb:.2f} MB in total "
            f"(each {low / 1e3:.0f} / {mid / 1e3:.0f} / {high / 1e3:.0f} kB min/median/max)"
        )
        print(
            f"  floor (parse inputs, write 2 outputs): {floor_best:.3f} s [{floor_median:.3f}]"
            f"  cpu {floor_cpu:.3f} s"
        )
        print(
            f"  merge (load PB data, import, write):  {merge_best:.3f} s [{merge_median:.3f}]"
            f"  cpu {merge_cpu:.3f} s\n"
            f"  merge / floor: {merge_best / floor_best:.2f}x wall "
            f"[{merge_median / floor_median:.2f}x median], {merge_cpu / floor_cpu:.2f}x cpu"
            f"  (target <= {TIME_TARGET:.0f}x)"
        )
        print(
            f"  merge peak memory: {row['peak'] / mb:.1f} MB = "
            f"{row['peak'] / row['size']:.2f}x input (target <= {MEMORY_TARGET:.0f}x); "
            f"floor's parse of one input at a time peaks at {row['floor_peak'] / mb:.1f} MB"
        )
        print(
            f"  (process high-water RSS grew {row['rss_growth'] / mb:.1f} MB over the "
            "interpreter and imports during the timed merges)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--keep", type=Path, help="keep the shard files and outputs here")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "LISTING", "OUT"), help="internal")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    if args.child:
        kind, listing, out = args.child
        inputs = [Path(line) for line in Path(listing).read_text().splitlines()]
        step = child_merge if kind == "merge" else child_floor
        print(json.dumps(step(inputs, Path(out), args.repeats)))
        return

    from runner.merge import load_pb_data

    shared = sorted(RESULTS_DIR.glob("results-*.json"))
    if len(shared) != 4:
        sys.exit(f"expected the four shared results files in {RESULTS_DIR}")
    work = Path(tempfile.mkdtemp(prefix="bench-merge-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        shard_dir = work / "shards"
        shard_dir.mkdir()
        pb_data = load_pb_data(None, BRANCH)
        shards = []
        for source in shared:
            shards += cut_into_shards(source, SHARDS_PER_FILE, shard_dir, pb_data)
        rows = [
            measure_set("4 shared results files", shared, work, args.repeats),
            measure_set(f"{len(shards)} shards cut from them", shards, work, args.repeats),
        ]
        print_report(rows, args.repeats)
    finally:
        if args.keep is None:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
