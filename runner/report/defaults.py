"""Every limit and default name the run report uses, in one place.

The report reads logs and state that other parts write; the file names here
follow docs/design.md and Badger Sett's own names, and the figures bound how
much of a long scan ends up in a chart or a file.
"""

# Files of a run folder (docs/design.md) that the report reads or writes.
STATE_FILE = "state.json"
SHARDS_DIR = "shards"
SHARD_LOG = "log.txt"
RUNSCAN_OUT = "runscan.out"
ATTEMPT_PREFIX = "attempt-"
REPORT_NAMES = {"text": "report.txt", "json": "report.json", "html": "report.html"}

# Where `runner report` looks for runs when it is given no run folder, and
# where `--format html` writes when it is given no `--out`.
OUTPUT_DIR = "output"
HTML_OUT = "report.html"

# A chart of sites done over time gets at most this many points per shard: a
# 7,000-site scan logs 7,000 `Visiting` lines, more than a screen can show.
CHART_POINTS_PER_SHARD = 240

# How many kinds of site error (timeouts, each exception name) a run lists.
ERROR_KINDS_SHOWN = 8

# How many bytes at the start of a file are checked for NUL bytes, to tell a
# binary file from a log before reading it all.
BINARY_SNIFF_BYTES = 4096

# Version of the report.json layout, raised when a field changes meaning.
REPORT_FORMAT = 1
