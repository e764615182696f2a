#!/usr/bin/env bash
# Stand-in for Badger Sett's runscan.sh on local-cloud droplets. It keeps the
# contract the swarm relies on: `runscan.sh <num sites> [crawler args]` with
# BROWSER, PB_BRANCH, GIT_PUSH and RUN_BY_CRON in the environment; the
# .scan_in_progress lock folder while it runs; the crawler's live log in
# docker-out/log.txt; on success results.json and log.txt moved beside this
# script and a last line starting "Scan successful."; on failure the log moved
# to log.<epoch>.txt and a last line "Scan failed. See log.<epoch>.txt for
# details.". There is no Docker and no network here: the Privacy Badger update
# and the image build are pretended, and the crawler is the replaying stand-in.

# The scan has to outlive the SSH session that started it, nohup or not.
trap '' HUP

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOCKDIR="$DIR/.scan_in_progress"
DOCKER_OUT="$DIR/docker-out"
PB_DIR="$DIR/privacybadger"
PB_BRANCH=${PB_BRANCH:-master}
BROWSER=${BROWSER:-chrome}

# Droplets share the host's /usr but not root's home, so prefer the system
# Python over whatever python3 a developer's PATH finds first.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)

if ! mkdir "$LOCKDIR" 2>/dev/null; then
  echo "Another Badger Sett instance is still running!"
  exit 1
fi
trap 'rmdir "$LOCKDIR"' EXIT

cd "$DIR" || exit 1

log_time() {
  date '+%Y-%m-%d %H:%M:%S,%3N'
}

# Ends the scan the way a failed Badger Sett scan ends. The crawler's log is
# kept; when the crawler never got to write one, the reason given here is.
scan_failed() {
  local epoch
  epoch=$(date +%s)
  if [ -f "$DOCKER_OUT/log.txt" ]; then
    mv "$DOCKER_OUT/log.txt" "./log.$epoch.txt"
  else
    printf '%s %s\n' "$(log_time)" "$1" > "./log.$epoch.txt"
  fi
  rm -f "$DOCKER_OUT/results.json"
  echo "Scan failed. See log.$epoch.txt for details."
  exit 1
}

if [ -d "$PB_DIR" ]; then
  echo "Updating Privacy Badger in $PB_DIR ..."
else
  echo "Cloning Privacy Badger into $PB_DIR ..."
  mkdir -p "$PB_DIR"
fi
echo "$PB_BRANCH" > "$PB_DIR/BRANCH"
echo "Already on '$PB_BRANCH'"

echo "Building Docker container..."
fault_report=$("$PYTHON" "$DIR/faults.py" fail-start 2>&1)
case $? in
  0)
    echo "ERROR: failed to solve: process \"/bin/sh -c apt-get update\" did not complete successfully: exit code: 100"
    echo "Docker build failed."
    scan_failed "Docker build failed (fail_start fault for $(uname -n))"
    ;;
  1) ;;
  *)
    echo "$fault_report"
    echo "Docker build failed."
    scan_failed "Docker build failed: $fault_report"
    ;;
esac

mkdir -p "$DOCKER_OUT"
echo "Running scan in Docker..."
"$PYTHON" "$DIR/crawler.py" "$BROWSER" "$@" --out-dir "$DOCKER_OUT" --pb-dir "$PB_DIR"
status=$?
if [ "$status" -ne 0 ]; then
  scan_failed "The crawler exited with status $status before it wrote its log."
fi
if [ ! -f "$DOCKER_OUT/results.json" ]; then
  scan_failed "The crawler finished without writing results.json."
fi

mv "$DOCKER_OUT/results.json" "$DOCKER_OUT/log.txt" ./
if [ -d "$DOCKER_OUT/screenshots" ]; then
  rm -rf ./screenshots
  mv "$DOCKER_OUT/screenshots" ./
fi

VERSION=$("$PYTHON" -c "import json; print(json.load(open('results.json'))['version'])")
echo "Scan successful. Seed data version: $VERSION"
exit 0
