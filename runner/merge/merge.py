"""The merge step: many shard results files in, one pair of merged results files out.

`merge_files` does what badger-swarm's browser merge does: it imports each
results file in turn into a fresh Privacy Badger and exports, once with the
block threshold (`results.json`) and once without (`results-noblocking.json`).
Both Badgers import the same files in one pass, so each file is read, checked
and cleaned once and then dropped before the next is read. Nothing is written
until every input has been read; a bad input stops the merge (or, with
`skip_bad`, is left out and listed) and the reasons go to the caller and to
`merge.log`.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from runner.errors import UserError
from runner.fsutil import atomic_write_text
from runner.merge.export import results_pieces, results_writers, version_for, write_batched
from runner.merge.importer import BLOCK_THRESHOLD, NO_BLOCK_THRESHOLD, Badger, IncomingFile
from runner.merge.inputs import BadResults, read_results
from runner.merge.pbdata import load_pb_data

RESULTS_NAME = "results.json"
NOBLOCKING_NAME = "results-noblocking.json"
LOG_NAME = "merge.log"

# How many bad files an error line names before it says "and N more".
MAX_BAD_NAMED = 3


@dataclass
class MergeReport:
    """What one merge did, for the caller's log and for `merge.log`."""

    inputs: list[Path]
    skipped: list[tuple[Path, str]]
    pb_source: str
    trackers: int
    blocked: int
    cookieblocked: int
    version: str
    out_dir: Path
    outputs: list[Path] = field(default_factory=list)
    noblocking_counts: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for a console or a run log."""
        skipped = f", skipped {len(self.skipped)}" if self.skipped else ""
        return (
            f"merged {len(self.inputs)} results files{skipped}: {self.trackers} trackers, "
            f"{self.blocked} blocked, {self.cookieblocked} cookieblocked -> {self.out_dir}"
        )


def _bad_inputs_error(bad: list[tuple[Path, str]]) -> UserError:
    named = "; ".join(f"{path}: {reason}" for path, reason in bad[:MAX_BAD_NAMED])
    more = f"; and {len(bad) - MAX_BAD_NAMED} more" if len(bad) > MAX_BAD_NAMED else ""
    return UserError(
        f"{len(bad)} results file(s) cannot be merged: {named}{more}; nothing was written "
        "(fix or remove them, or pass --skip-bad to merge the others)"
    )


def _log_text(report: MergeReport, started: datetime, ignore_sites, counts) -> str:
    lines = [
        f"merge at {started.strftime('%Y-%m-%dT%H:%M:%SZ')}, version {report.version}",
        f"Privacy Badger data: {report.pb_source}",
        f"block threshold: {BLOCK_THRESHOLD} for {RESULTS_NAME}, none for {NOBLOCKING_NAME}",
        f"ignored site bases: {', '.join(sorted(ignore_sites)) or 'none'}",
        f"inputs, in import order ({len(report.inputs)}):",
    ]
    lines += [f"  {path}" for path in report.inputs]
    if report.skipped:
        lines.append(f"skipped ({len(report.skipped)}):")
        lines += [f"  {path}: {reason}" for path, reason in report.skipped]
    blocking, noblocking = counts
    for name, figures in ((RESULTS_NAME, blocking), (NOBLOCKING_NAME, noblocking)):
        lines.append(
            f"{name}: {figures['trackers']} trackers, {figures['blocked']} blocked, "
            f"{figures['cookieblocked']} cookieblocked, {figures['action_map']} action_map entries"
        )
    lines.append(f"took {report.seconds:.2f} s")
    return "\n".join(lines) + "\n"


def merge_files(
    inputs: list[Path],
    out_dir: Path,
    *,
    pb_data=None,
    ignore_sites=(),
    skip_bad: bool = False,
    today: date | None = None,
) -> MergeReport:
    """Merge `inputs` in the order given into `out_dir`'s results.json and results-noblocking.json.

    `pb_data` comes from `load_pb_data` (default: the shipped `master` snapshot).
    Raises UserError when an input is bad (unless `skip_bad`) or none is left.
    """
    clock = time.monotonic()
    started = datetime.now(UTC)
    inputs = [Path(path) for path in inputs]
    if not inputs:
        raise UserError("no results files to merge; give a run folder or results.json files")
    pb = pb_data if pb_data is not None else load_pb_data()
    ignore_sites = frozenset(ignore_sites)

    strings: dict = {}
    blocking = Badger(pb, BLOCK_THRESHOLD, ignore_sites, strings)
    noblocking = Badger(pb, NO_BLOCK_THRESHOLD, ignore_sites, strings)
    used: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in inputs:
        notable: list = []
        try:
            data = read_results(path, notable)
        except BadResults as e:
            skipped.append((path, str(e)))
            continue
        if skipped and not skip_bad:
            # Merging is over; the rest are read only to name every bad file.
            continue
        incoming = IncomingFile(data, pb, notable)
        blocking.import_file(incoming)
        noblocking.import_file(incoming)
        used.append(path)
        del data, incoming, notable
    if skipped and not skip_bad:
        raise _bad_inputs_error(skipped)
    if not used:
        raise UserError(
            f"none of the {len(inputs)} results files could be merged; "
            f"first: {skipped[0][0]}: {skipped[0][1]}"
        )

    out_dir = Path(out_dir)
    version = version_for(today or date.today())
    outputs = ((RESULTS_NAME, blocking), (NOBLOCKING_NAME, noblocking))
    try:
        with results_writers([out_dir / name for name, _ in outputs]) as files:
            for out, (_, badger) in zip(files, outputs, strict=True):
                write_batched(out, results_pieces(badger, version))
    except OSError as e:
        names = " and ".join(name for name, _ in outputs)
        raise UserError(
            f"cannot write {names} in {out_dir}: {e.strerror or e}; the old files are unchanged"
        ) from None
    counts = (blocking.counts(), noblocking.counts())
    report = MergeReport(
        inputs=used,
        skipped=skipped,
        pb_source=pb.source,
        trackers=counts[0]["trackers"],
        blocked=counts[0]["blocked"],
        cookieblocked=counts[0]["cookieblocked"],
        version=version,
        out_dir=out_dir,
        outputs=[out_dir / RESULTS_NAME, out_dir / NOBLOCKING_NAME, out_dir / LOG_NAME],
        noblocking_counts=counts[1],
    )
    report.seconds = time.monotonic() - clock
    try:
        atomic_write_text(out_dir / LOG_NAME, _log_text(report, started, ignore_sites, counts))
    except OSError as e:
        raise UserError(f"cannot write {out_dir / LOG_NAME}: {e.strerror or e}") from None
    return report
