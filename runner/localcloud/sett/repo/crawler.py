#!/usr/bin/env python3
"""Stand-in for Badger Sett's crawler: replays what a real scan saw, site by site.

It takes the real crawler's arguments, reads the site list the same way
(comments, excluded suffixes, `google.*` other than google.com, at most
`num_sites`), writes the same log in the same format, and saves a
`results.json` in Privacy Badger's export format. Instead of browsing, it looks
each site up in `replay.json` (built from a real results file by
`runner.localcloud.sett.build_repo`) and records the trackers the real scan saw
there; the log lines the real crawler wrote for the site are replayed too.
While it "visits", a child process named like the browser (`chrome`,
`firefox-bin`, `msedge`) runs; killing it makes the crawler restart the
browser and go on, as the real one does. Timing and faults come from
`faults.py`. Sites are visited in list order (the real crawler shuffles them;
the swarm already does). Standard library only.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import fnmatch
import hashlib
import json
import logging
import os
import pprint
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faults

CHECKOUT = Path(__file__).resolve().parent
REPLAY_INDEX = CHECKOUT / "replay.json"
BROWSER_LINKS = CHECKOUT / ".browser"

CHROME, EDGE, FIREFOX = "chrome", "edge", "firefox"
# The process name (comm) of each browser, which the swarm kills with pkill -x.
BROWSER_PROCESS_NAMES = {CHROME: "chrome", EDGE: "msedge", FIREFOX: "firefox-bin"}
# What the webdriver reports when its browser goes away under it.
BROWSER_GONE_ERRORS = {
    CHROME: ("WebDriverException", "chrome not reachable"),
    EDGE: ("WebDriverException", "disconnected: not connected to DevTools"),
    FIREFOX: ("WebDriverException", "Failed to decode response from marionette"),
}
# A browser process lives this long unless it is restarted or killed.
BROWSER_LIFETIME_SECONDS = 7 * 24 * 3600
PR_SET_PDEATHSIG = 1

RESULTS_FILE = "results.json"
LOG_FILE = "log.txt"
DATA_KEYS = ("action_map", "fp_scripts", "snitch_map", "tracking_map")
# A 1x1 PNG, written when screenshots are asked for.
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


class WebDriverException(Exception):
    """The crawler lost its browser in a way it does not recover from."""


def create_argument_parser() -> argparse.ArgumentParser:
    # The real crawler's arguments, so that a swarm passing one it does not
    # know fails here the way it would fail there (argparse exits 2).
    ap = argparse.ArgumentParser(description="Badger Sett stand-in crawler")
    ap.add_argument("browser", choices=[CHROME, EDGE, FIREFOX])
    ap.add_argument("num_sites", type=int)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--wait-time", type=float, default=5.0)
    ap.add_argument("--log-stdout", action="store_true", default=False)
    ap.add_argument("--no-blocking", action="store_true", default=False)
    ap.add_argument("--no-link-clicking", action="store_true", default=False)
    ap.add_argument("--take-screenshots", action="store_true", default=False)
    ap.add_argument("--load-extension", default=None)
    ap.add_argument("--get-sitelist-only", action="store_true", default=False)
    ap.add_argument("--site-list", "--domain-list", default=None)
    ap.add_argument("--exclude", default=None)
    ap.add_argument("--exclude-failures-since", metavar="DATE", default="1 week")
    ap.add_argument("--load-data", metavar="BADGER_DATA_JSON", action="append", default=[])
    ap.add_argument("--load-data-ignore-sites", default=None)
    ap.add_argument("--out-dir", "--out-path", dest="out_dir", default="./")
    ap.add_argument("--pb-dir", "--pb-path", dest="pb_dir", default="./privacybadger")
    ap.add_argument("--browser-binary", default=None)
    ap.add_argument("--chromedriver-path", default=None)
    ap.add_argument(
        "--firefox-tracking-protection", choices=("off", "standard", "strict"), default="off"
    )
    ap.add_argument("--no-xvfb", action="store_true", default=False)
    return ap


def _die_with_parent() -> None:
    # Runs in the browser child before exec: if the crawler dies (a crash, a
    # kill), its browser goes with it, as a container's processes would.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Browser:
    """The browser process: a long sleep run under the browser's process name."""

    def __init__(self, browser: str):
        self.name = BROWSER_PROCESS_NAMES[browser]
        self.process: subprocess.Popen | None = None
        BROWSER_LINKS.mkdir(exist_ok=True)
        self.link = BROWSER_LINKS / self.name
        target = shutil.which("sleep") or "/bin/sleep"
        if not self.link.is_symlink() or os.readlink(self.link) != target:
            self.link.unlink(missing_ok=True)
            self.link.symlink_to(target)

    def start(self) -> None:
        # Executing the symlink gives the process the symlink's name, which
        # is what `pkill -x firefox-bin` matches.
        self.process = subprocess.Popen(
            [self.name, str(BROWSER_LIFETIME_SECONDS)],
            executable=str(self.link),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def gone_within(self, seconds: float | None) -> bool:
        """Wait up to `seconds` (forever if None); True if the browser process ended."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Crawler:
    """One scan: the site list, the browser process, what was found, the log and results."""

    def __init__(self, opts: argparse.Namespace, settings: dict, index: dict):
        self.opts = opts
        self.browser_name = opts.browser
        self.settings = settings
        self.index = index
        self.logger = logging.getLogger()
        self.browser = Browser(opts.browser)
        self.data = {key: {} for key in DATA_KEYS}
        self.reported_trackers: set[str] = set()
        now = time.localtime()
        self.version = f"{now.tm_year}.{now.tm_mon}.{now.tm_mday}"
        # The real crawler excludes sites that failed in recent scans, found in
        # the git history of its log.txt; this repository has none.
        self.exclude_domains: set[str] = set()
        Path(opts.out_dir).mkdir(parents=True, exist_ok=True)

    def init_logging(self) -> None:
        self.logger.setLevel(logging.INFO)
        fmt = logging.Formatter("%(asctime)s %(message)s")
        handler = logging.FileHandler(os.path.join(self.opts.out_dir, LOG_FILE))
        handler.setFormatter(fmt)
        self.logger.addHandler(handler)
        if self.opts.log_stdout:
            stream = logging.StreamHandler(sys.stdout)
            stream.setFormatter(fmt)
            self.logger.addHandler(stream)

    def get_sitelist(self) -> list[str]:
        if not self.opts.site_list:
            raise SystemExit("the stand-in crawler needs --domain-list (it cannot fetch Tranco)")
        domains = []
        with open(self.opts.site_list, encoding="utf-8") as f:
            for line in f:
                domain = line.strip()
                if domain and not domain.startswith("#"):
                    domains.append(domain)

        suffixes = self.opts.exclude.split(",") if self.opts.exclude else []
        patterns = ["*" + suffix for suffix in suffixes if "?" in suffix]
        plain = tuple(suffix for suffix in suffixes if "?" not in suffix)
        kept = []
        for domain in domains:
            if domain in self.exclude_domains:
                continue
            if domain.startswith("google.") and domain != "google.com":
                continue
            if plain and domain.endswith(plain):
                continue
            if any(fnmatch.fnmatch(domain, pattern) for pattern in patterns):
                continue
            kept.append(domain)
            if len(kept) == self.opts.num_sites:
                break
        return kept

    def start_browser(self) -> None:
        self.browser.start()
        self.logger.info("Websocket connected")

    def restart_browser(self) -> None:
        self.logger.info("Restarting browser ...")
        self.browser.stop()
        time.sleep(self.settings["restart_seconds"])
        self.start_browser()
        self.logger.info("Successfully restarted")

    def log_scan_summary(self) -> None:
        if self.browser_name == FIREFOX:
            label = f"Firefox (ETP {self.opts.firefox_tracking_protection})"
        else:
            label = self.browser_name.capitalize()
        branch = self.privacy_badger_branch()
        suffixes = self.opts.exclude
        self.logger.info(
            "Starting new crawl:\n\n"
            "  browser: %s\n"
            "  Badger branch: %s\n"
            "  Badger hash: %s\n"
            "  blocking: %s\n"
            "  timeout: %ss\n"
            "  wait time: %ss\n"
            "  site list: %s\n"
            "  domains to crawl: %d\n"
            "  suffixes to exclude: %s\n"
            "  domains to exclude: %s\n"
            "  parallel extension: %s\n"
            "  driver capabilities:\n\n%s\n",
            label,
            branch,
            hashlib.sha1(f"privacybadger {branch}".encode()).hexdigest(),
            "off" if self.opts.no_blocking else "standard",
            self.opts.timeout,
            self.opts.wait_time,
            self.opts.site_list,
            self.opts.num_sites,
            suffixes,
            None,
            self.opts.load_extension,
            pprint.pformat(self.capabilities()),
        )

    def privacy_badger_branch(self) -> str | None:
        # runscan.sh leaves the branch it "checked out" here.
        try:
            return (Path(self.opts.pb_dir) / "BRANCH").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def capabilities(self) -> dict:
        timeouts = {"implicit": 0, "pageLoad": 300000, "script": 30000}
        common = {
            "acceptInsecureCerts": False,
            "pageLoadStrategy": "normal",
            "platformName": "linux",
            "proxy": {},
            "setWindowRect": True,
            "strictFileInteractability": False,
            "timeouts": timeouts,
            "unhandledPromptBehavior": "ignore",
        }
        if self.browser_name == FIREFOX:
            return {
                **common,
                "browserName": "firefox",
                "moz:headless": False,
                "moz:processID": self.browser.pid,
                "moz:profile": "/tmp/rust_mozprofile",
            }
        name = "chrome" if self.browser_name == CHROME else "MicrosoftEdge"
        return {**common, "browserName": name, "goog:processID": self.browser.pid}

    def load_data(self, path: str) -> None:
        """Start from a Badger data file, as the real crawler's --load-data does."""
        with open(path, encoding="utf-8") as f:
            loaded = json.load(f)
        ignored = set(filter(None, (self.opts.load_data_ignore_sites or "").split(",")))
        for tracker, sites in loaded.get("snitch_map", {}).items():
            for site in sites:
                if site not in ignored:
                    self.note_site(tracker, site)
        for tracker, by_site in loaded.get("tracking_map", {}).items():
            for site, types in by_site.items():
                if site not in ignored:
                    self.data["tracking_map"].setdefault(tracker, {})[site] = list(types)
        self.data["action_map"].update(copy.deepcopy(loaded.get("action_map", {})))
        for host, paths in loaded.get("fp_scripts", {}).items():
            self.data["fp_scripts"].setdefault(host, {}).update(paths)
        self.reported_trackers = set(self.data["snitch_map"])

    def note_site(self, tracker: str, site: str) -> None:
        sites = self.data["snitch_map"].setdefault(tracker, [])
        if site not in sites:
            sites.append(site)

    def record(self, domain: str) -> None:
        """Add what the real scan saw on `domain` to this scan's data."""
        site = self.index["sites"].get(domain, {})
        for tracker, types in site.get("trackers", {}).items():
            self.note_site(tracker, domain)
            if types is not None:
                self.data["tracking_map"].setdefault(tracker, {})[domain] = list(types)
            found = self.index["trackers"].get(tracker, {})
            self.data["action_map"].update(copy.deepcopy(found.get("action_map", {})))
            for host, paths in found.get("fp_scripts", {}).items():
                self.data["fp_scripts"].setdefault(host, {}).update(paths)

    def log_snitch_map_changes(self) -> None:
        new = set(self.data["snitch_map"]) - self.reported_trackers
        if new:
            self.logger.info("New domains in snitch_map: %s", ", ".join(sorted(new)))
        self.reported_trackers |= new

    def browser_gone(self, domain: str) -> None:
        exception, message = BROWSER_GONE_ERRORS[self.browser_name]
        self.logger.error("%s on %s: %s", exception, domain, message)
        self.restart_browser()

    def visit(self, domain: str) -> bool:
        """One site: replay its log lines over `site_seconds`; True if it counts as visited."""
        if faults.fires("stall_sites", domain, self.settings):
            # The page never finishes loading; only killing the browser ends
            # the wait. The site yields nothing, as a hung visit does.
            self.browser.gone_within(None)
            self.browser_gone(domain)
            return False

        site = self.index["sites"].get(domain, {})
        messages = site.get("log") or [f"Visited {domain} on https://{domain}/"]
        if self.opts.no_link_clicking:
            messages = [
                m for m in messages if not m.startswith(("Clicking on", "Failed to visit"))
            ]
        pause = self.settings["site_seconds"] / len(messages)
        for message in messages:
            if self.browser.gone_within(pause):
                self.browser_gone(domain)
                return False
            self.logger.info("%s", message)

        self.record(domain)
        if self.opts.take_screenshots:
            self.take_screenshot(domain)
        if site.get("restart"):
            self.restart_browser()
        return any(m.startswith(f"Visited {domain}") for m in messages)

    def take_screenshot(self, domain: str) -> None:
        folder = Path(self.opts.out_dir) / "screenshots"
        folder.mkdir(exist_ok=True)
        name = re.sub(r"[^a-z0-9]", "-", f"{domain}-https://{domain}/".lower()[:100])
        (folder / f"{int(time.time())}-{name}.png").write_bytes(BLANK_PNG)

    def crawl(self, domains: list[str]) -> None:
        num_visited = 0
        for number, domain in enumerate(domains, start=1):
            self.log_snitch_map_changes()
            self.logger.info("Visiting %d: %s", number, domain)
            if self.visit(domain):
                num_visited += 1
            if faults.fires("crash_after", domain, self.settings):
                raise WebDriverException(
                    f"Message: Failed to decode response from marionette (crash_after {domain})"
                )

        if domains:
            num_errors = len(domains) - num_visited
            self.logger.info(
                "Finished scan. Visited %d sites and errored on %d (%.1f%%)",
                num_visited,
                num_errors,
                num_errors / len(domains) * 100,
            )
        self.log_snitch_map_changes()
        self.browser.stop()
        self.save()

    def save(self) -> None:
        self.logger.info("Saving seed data version %s ...", self.version)
        results = {key: self.data[key] for key in DATA_KEYS}
        results["version"] = self.version
        # Badger Sett's formatting: sorted keys, two-space indent, no final newline.
        text = json.dumps(results, sort_keys=True, indent=2)
        Path(self.opts.out_dir, RESULTS_FILE).write_text(text, encoding="utf-8")
        self.logger.info("Saved data to %s", RESULTS_FILE)


def main(argv: list[str] | None = None) -> None:
    opts = create_argument_parser().parse_args(argv)
    settings = faults.load_settings()
    index = json.loads(REPLAY_INDEX.read_text(encoding="utf-8"))
    crawler = Crawler(opts, settings, index)

    if opts.get_sitelist_only:
        print("\n".join(crawler.get_sitelist()))
        return

    crawler.init_logging()
    domains = crawler.get_sitelist() if opts.num_sites else []
    try:
        crawler.start_browser()
        crawler.log_scan_summary()
        for path in opts.load_data:
            crawler.load_data(path)
        crawler.crawl(domains)
    finally:
        crawler.browser.stop()


if __name__ == "__main__":
    main()
