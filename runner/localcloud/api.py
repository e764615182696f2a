"""The DigitalOcean API v2 stand-in: an HTTP server on 127.0.0.1 in front of `Account`.

It answers the calls `community.digitalocean` makes (account, keys, sizes, regions,
images, droplets, droplet actions, tags, firewalls) with the real API's shapes, status
codes, pagination links and rate-limit headers. Before a `/v2` request reaches the account
it passes, in this order, the token check (401), the rate limits (429), the `vanish`
faults and the random server errors (5xx); all but the token are read from the faults
file on every request. `/_localcloud/health` (outside `/v2`, no token) tells `control.py`
that the server is up. `control.py` runs it as `python -m runner.localcloud.api --dir D
--port P --net N`; the token, if any, arrives in the environment and stays in memory.
"""

import argparse
import fcntl
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from runner.localcloud import catalog, droplets
from runner.localcloud.account import Account, ApiError, not_found
from runner.localcloud.faults import ErrorInjector, FaultReader, RateLimiter
from runner.localcloud.state import DATA_ROOT, CloudPaths, load_state, new_state, save_state

TOKEN_ENV = "BSW_LOCALCLOUD_TOKEN"
LISTEN_HOST = "127.0.0.1"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 200
# How often the vanish faults are applied when no request comes in.
TICK_SECONDS = 0.2
# How long stopping may take to delete every droplet before the rest is killed outright.
SHUTDOWN_TIMEOUT = 60.0
# Exit status when the server cannot take its port or net; control.py reports the log line.
EXIT_CANNOT_START = 3

UNAUTHORIZED = (401, {"id": "unauthorized", "message": "Unable to authenticate you."})
RATE_LIMITED = (429, {"id": "too_many_requests", "message": "API Rate limit exceeded."})


def base_url(port: int) -> str:
    return f"http://{LISTEN_HOST}:{port}/v2"


def net_lock_path(net: int) -> Path:
    return DATA_ROOT / f"net-{net}.lock"


def paginate(items: list, query: dict, path: str, server_base: str, key: str) -> dict:
    """One page of items with DO's `links.pages` (absolute URLs) and `meta.total`."""
    page = _positive(query.get("page"), 1)
    per_page = min(_positive(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    last = max(1, -(-len(items) // per_page))
    filters = {k: v for k, v in query.items() if k not in ("page", "per_page")}

    def link(number):
        return f"{server_base}{path}?" + urlencode(
            filters | {"page": number, "per_page": per_page}
        )

    pages = {}
    if page > 1:
        pages["first"] = link(1)
        pages["prev"] = link(min(page - 1, last))
    if page < last:
        pages["next"] = link(page + 1)
        pages["last"] = link(last)
    start = (page - 1) * per_page
    return {
        key: items[start : start + per_page],
        "links": {"pages": pages} if pages else {},
        "meta": {"total": len(items)},
    }


def _positive(value, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 1 else default


class Handler(BaseHTTPRequestHandler):
    server_version = "localcloud"
    protocol_version = "HTTP/1.1"
    routes = []  # (method, compiled pattern, handler name), filled below

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def log_message(self, fmt, *args):
        # Request lines only: headers (and so the token) never reach the log.
        self.server.log(f"{self.address_string()} {fmt % args}")

    # ---- plumbing

    def _dispatch(self, method: str) -> None:
        srv = self.server
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self._read_body(method)
        headers = {}
        try:
            if url.path.startswith("/_localcloud/"):
                status, payload = self._admin(method, url.path)
            elif url.path.startswith("/v2/"):
                headers = srv.limiter.peek(srv.faults.api()["rate_limit_per_hour"])
                if not srv.authorized(self.headers.get("Authorization")):
                    status, payload = UNAUTHORIZED
                else:
                    status, payload, headers = self._v2(method, url.path[3:], query, body)
            else:
                raise not_found()
        except ApiError as e:
            status, payload = e.status, {"id": e.error_id, "message": e.message}
        except Exception as e:
            srv.log(f"internal error on {method} {url.path}: {e!r}\n{traceback.format_exc()}")
            status, payload = 500, {"id": "server_error", "message": f"local cloud bug: {e!r}"}
        self._answer(status, payload, headers)

    def _read_body(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        # The collection sends `null` with every GET; the real API ignores GET bodies.
        if method == "GET" or not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return ValueError("request body is not JSON")
        return {} if body is None else body

    def _answer(self, status: int, payload, headers: dict) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _v2(self, method, path, query, body):
        srv = self.server
        faults = srv.faults.api()
        allowed, headers = srv.limiter.admit(
            faults["rate_limit_per_minute"], faults["rate_limit_per_hour"]
        )
        if not allowed:
            return *RATE_LIMITED, headers
        srv.account.vanish()
        error = srv.errors.draw(srv.faults.version, faults["error_rate"], faults["error_seed"])
        if error:
            return *error, headers
        if isinstance(body, ValueError):
            return 400, {"id": "bad_request", "message": str(body)}, headers
        if not isinstance(body, dict):
            return 400, {"id": "bad_request", "message": "request body must be an object"}, headers
        for route_method, pattern, name in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                status, payload = getattr(self, name)(query, body, path, *match.groups())
                return status, payload, headers
        raise not_found()

    def _admin(self, method, path):
        if method == "GET" and path == "/_localcloud/health":
            return 200, {"pid": os.getpid(), "base_url": self.server.base_url}
        raise not_found()

    def _page(self, items, query, path, key):
        return 200, paginate(items, query, path, self.server.base_url, key)

    # ---- /v2 routes

    def account(self, query, body, path):
        return 200, {"account": self.server.account.account_json()}

    def list_keys(self, query, body, path):
        return self._page(self.server.account.keys(), query, path, "ssh_keys")

    def add_key(self, query, body, path):
        return 201, {"ssh_key": self.server.account.add_key(body)}

    def get_key(self, query, body, path, ref):
        return 200, {"ssh_key": self.server.account.key(ref)}

    def delete_key(self, query, body, path, ref):
        self.server.account.delete_key(ref)
        return 204, None

    def sizes(self, query, body, path):
        return self._page(catalog.sizes(), query, path, "sizes")

    def regions(self, query, body, path):
        return self._page(catalog.regions(), query, path, "regions")

    def images(self, query, body, path):
        return self._page(catalog.images(), query, path, "images")

    def list_droplets(self, query, body, path):
        found = self.server.account.find(query.get("tag_name"), query.get("name"))
        return self._page(found, query, path, "droplets")

    def create_droplets(self, query, body, path):
        account = self.server.account
        created = [account.droplet_json(d) for d in account.create(body)]
        if "names" in body and body["names"] is not None:
            return 202, {"droplets": created, "links": {"actions": []}}
        return 202, {"droplet": created[0], "links": {"actions": []}}

    def get_droplet(self, query, body, path, droplet_id):
        return 200, {"droplet": self.server.account.get(droplet_id)}

    def delete_droplet(self, query, body, path, droplet_id):
        self.server.account.delete(int(droplet_id))
        return 204, None

    def delete_droplets(self, query, body, path):
        tag = query.get("tag_name")
        if not tag:
            raise ApiError(422, "unprocessable_entity", "tag_name is required to delete by tag")
        self.server.account.delete_by_tag(tag)
        return 204, None

    def droplet_action(self, query, body, path, droplet_id):
        return 201, {"action": self.server.account.act(droplet_id, body)}

    def get_droplet_action(self, query, body, path, droplet_id, action_id):
        return 200, {"action": self.server.account.action(action_id, droplet_id)}

    def get_action(self, query, body, path, action_id):
        return 200, {"action": self.server.account.action(action_id)}

    def firewalls(self, query, body, path):
        return self._page([], query, path, "firewalls")

    def list_tags(self, query, body, path):
        return self._page(self.server.account.tags(), query, path, "tags")

    def create_tag(self, query, body, path):
        return 201, {"tag": self.server.account.create_tag(body)}

    def get_tag(self, query, body, path, name):
        return 200, {"tag": self.server.account.tag(name)}

    def delete_tag(self, query, body, path, name):
        self.server.account.delete_tag(name)
        return 204, None

    def tag_resources(self, query, body, path, name):
        self.server.account.retag(name, body, add=True)
        return 204, None

    def untag_resources(self, query, body, path, name):
        self.server.account.retag(name, body, add=False)
        return 204, None


def _route(method: str, pattern: str, name: str):
    Handler.routes.append((method, re.compile(pattern), name))


_route("GET", r"/account", "account")
_route("GET", r"/account/keys", "list_keys")
_route("POST", r"/account/keys", "add_key")
_route("GET", r"/account/keys/([^/]+)", "get_key")
_route("DELETE", r"/account/keys/([^/]+)", "delete_key")
_route("GET", r"/sizes", "sizes")
_route("GET", r"/regions", "regions")
_route("GET", r"/images", "images")
_route("GET", r"/droplets", "list_droplets")
_route("POST", r"/droplets", "create_droplets")
_route("DELETE", r"/droplets", "delete_droplets")
_route("GET", r"/droplets/(\d+)", "get_droplet")
_route("DELETE", r"/droplets/(\d+)", "delete_droplet")
_route("POST", r"/droplets/(\d+)/actions", "droplet_action")
_route("GET", r"/droplets/(\d+)/actions/(\d+)", "get_droplet_action")
_route("GET", r"/actions/(\d+)", "get_action")
_route("GET", r"/firewalls", "firewalls")
_route("GET", r"/tags", "list_tags")
_route("POST", r"/tags", "create_tag")
_route("GET", r"/tags/([^/]+)", "get_tag")
_route("DELETE", r"/tags/([^/]+)", "delete_tag")
_route("POST", r"/tags/([^/]+)/resources", "tag_resources")
_route("DELETE", r"/tags/([^/]+)/resources", "untag_resources")


class CloudServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, paths: CloudPaths, port: int, token: str | None, account_factory):
        super().__init__((LISTEN_HOST, port), Handler)
        self.paths = paths
        self.base_url = base_url(self.server_address[1])
        self._token = token
        self.faults = FaultReader(paths.faults_file, log=self.log)
        self.limiter = RateLimiter()
        self.errors = ErrorInjector()
        self.account = account_factory(self)

    def authorized(self, header: str | None) -> bool:
        if not self._token:
            return True
        return hmac.compare_digest((header or "").encode(), f"Bearer {self._token}".encode())

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        print(f"{stamp} {message}", flush=True)


def owner_gone(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def serve(
    paths: CloudPaths, port: int, net: int, token: str | None, owner_pid: int | None = None
) -> int:
    """Run the API until SIGTERM or SIGINT (or until owner_pid ends), then delete every droplet."""
    net_lock_path(net).parent.mkdir(parents=True, exist_ok=True)
    lock = open(net_lock_path(net), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            f"net {net} (127.{net}.0.0/16) is used by another local cloud; pick another --net",
            flush=True,
        )
        return EXIT_CANNOT_START

    state = load_state(paths) or new_state(port, net)
    state.update(port=port, net=net)
    try:
        server = CloudServer(
            paths, port, token, lambda srv: Account(paths, state, srv.faults, log=srv.log)
        )
    except OSError as e:
        print(
            f"cannot listen on {LISTEN_HOST}:{port}: {e.strerror}; pick another --port", flush=True
        )
        return EXIT_CANNOT_START
    paths.pid_file.write_text(f"{os.getpid()}\n")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.log(f"listening at {server.base_url} (pid {os.getpid()}, net 127.{net}.0.0/16)")
    while not stop.wait(TICK_SECONDS):
        if owner_gone(owner_pid):
            server.log(f"owner process {owner_pid} ended")
            break
        try:
            server.account.vanish()
        except Exception as e:
            server.log(f"vanish fault failed: {e!r}")

    server.log("stopping: deleting every droplet")
    server.shutdown()
    deleted = server.account.shutdown(SHUTDOWN_TIMEOUT)
    droplets.destroy_all(paths)
    state["droplets"] = []
    save_state(paths, state)
    paths.pid_file.unlink(missing_ok=True)
    server.log(f"stopped; deleted {deleted} droplets")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--net", type=int, required=True)
    parser.add_argument("--owner-pid", type=int, help="stop when this process ends (tests)")
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, None) or None
    return serve(CloudPaths.for_dir(args.dir), args.port, args.net, token, args.owner_pid)


if __name__ == "__main__":
    sys.exit(main())
