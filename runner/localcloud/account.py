"""The stand-in DigitalOcean account: droplets, SSH keys, tags and droplet actions.

This is the cloud's memory and its rules, with no HTTP in it: `api.py` turns requests
into calls here and `ApiError`s into DO-shaped error answers. A droplet is answered with
202 at once and booted by a background thread (copy its files, start its sandbox, wait
for its SSH banner, then `active` once `active_delay` has passed), so fifty creates do
not hold up the server. Every change is saved to the state file, so that a cloud whose
server was killed can still find and remove its droplets.
"""

import re
import threading
import time
import uuid
from datetime import UTC, datetime

from runner.localcloud import catalog, droplets
from runner.localcloud.faults import FaultReader
from runner.localcloud.sshkeys import InvalidPublicKey, md5_fingerprint
from runner.localcloud.state import CloudPaths, save_state

# How many droplets may have their files copied and their sandbox started at once.
BOOT_CONCURRENCY = 8
# The real API creates at most this many droplets per request (`names`).
MAX_NAMES_PER_CREATE = 10
DROPLET_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$")
TAG_NAME = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
HOSTS_PER_NET = 256 * 254
POWER_ACTIONS = ("power_on", "power_off", "shutdown", "reboot", "power_cycle")


class ApiError(Exception):
    """An answer the real API would give instead of a result."""

    def __init__(self, status: int, error_id: str, message: str):
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


def not_found() -> ApiError:
    return ApiError(404, "not_found", "The resource you were accessing could not be found.")


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "unprocessable_entity", message)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Account:
    def __init__(self, paths: CloudPaths, state: dict, faults: FaultReader, log=print):
        self.paths = paths
        self.state = state
        self.faults = faults
        self.log = log
        self.net = state["net"]
        self.lock = threading.RLock()
        self.droplets: dict[int, dict] = {}
        self.sandboxes: dict[int, droplets.Running] = {}
        self.actions: dict[int, dict] = {}
        self.next_action_id = 1_900_000_001
        self.slots = droplets.BootSlots(BOOT_CONCURRENCY)
        self.workers: set[threading.Thread] = set()
        # Set when the cloud stops, so boot threads do not sit out a long active_delay.
        self.closing = threading.Event()
        state["droplets"] = []
        droplets.setup(paths)
        self._save()

    # ---- persistence and background work

    def _save(self) -> None:
        with self.lock:
            self.state["droplets"] = list(self.droplets.values())
            save_state(self.paths, self.state)

    def _spawn(self, target, *args) -> None:
        def run():
            try:
                target(*args)
            except Exception as e:  # a failed boot must not kill the server
                self.log(f"error in {target.__name__}{args}: {e!r}")
            finally:
                with self.lock:
                    self.workers.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True)
        with self.lock:
            self.workers.add(thread)
        thread.start()

    def _set_status(self, droplet: dict, status: str, note: str = "") -> None:
        old = droplet["status"]
        droplet["status"] = status
        self.log(
            f"droplet {droplet['id']} {droplet['name']} {droplet['ip']}: {old} -> {status}"
            + (f" ({note})" if note else "")
        )
        self._save()

    # ---- account and keys

    def account_json(self) -> dict:
        return {
            "droplet_limit": self.faults.api()["droplet_limit"],
            "floating_ip_limit": 3,
            "volume_limit": 100,
            "email": "rehearsal@localcloud.invalid",
            "email_verified": True,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, str(self.paths.dir))),
            "status": "active",
            "status_message": "",
            "team": {"uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, "localcloud")), "name": "My Team"},
        }

    def keys(self) -> list[dict]:
        with self.lock:
            return list(self.state["ssh_keys"])

    def key(self, id_or_fingerprint) -> dict:
        found = self._find_key(str(id_or_fingerprint))
        if found is None:
            raise not_found()
        return found

    def _find_key(self, ref: str) -> dict | None:
        with self.lock:
            for key in self.state["ssh_keys"]:
                if ref in (str(key["id"]), key["fingerprint"]):
                    return key
        return None

    def add_key(self, body: dict) -> dict:
        public_key = body.get("public_key")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise unprocessable("Name can't be blank")
        if not isinstance(public_key, str):
            raise unprocessable("Public key can't be blank")
        try:
            fingerprint = md5_fingerprint(public_key)
        except InvalidPublicKey as e:
            raise unprocessable(f"Key invalid: {e}") from e
        with self.lock:
            if self._find_key(fingerprint):
                raise unprocessable("SSH Key is already in use on your account")
            key = {
                "id": self.state["next_key_id"],
                "fingerprint": fingerprint,
                "public_key": public_key.strip(),
                "name": name,
            }
            self.state["next_key_id"] += 1
            self.state["ssh_keys"].append(key)
            self._save()
            return key

    def delete_key(self, id_or_fingerprint) -> None:
        key = self.key(id_or_fingerprint)
        with self.lock:
            self.state["ssh_keys"].remove(key)
            self._save()

    # ---- droplets: create

    def create(self, body: dict) -> list[dict]:
        names = self._requested_names(body)
        size_slug, region_slug, image_slug = self._placement(body)
        key_ids = self._requested_keys(body.get("ssh_keys"))
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(
            isinstance(t, str) and TAG_NAME.match(t) for t in tags
        ):
            raise unprocessable(
                "Tags may contain letters, numbers, colons, dashes and underscores"
            )

        faults = self.faults.api()
        with self.lock:
            if self.closing.is_set():
                raise ApiError(503, "service_unavailable", "The local cloud is stopping.")
            if len(self.droplets) + len(names) > faults["droplet_limit"]:
                raise unprocessable(
                    "creating this/these droplet(s) will exceed your droplet limit"
                )
            now = time.time()
            created = []
            for name in names:
                droplet = {
                    "id": self.state["next_droplet_id"],
                    "name": name,
                    "size_slug": size_slug,
                    "region": region_slug,
                    "image": image_slug,
                    "tags": list(dict.fromkeys(tags)),
                    "ssh_keys": key_ids,
                    "ip": self._allocate_ip(),
                    "status": "new",
                    "created": now,
                    "active_at": now + faults["active_delay"],
                    "ssh_at": now + faults["active_delay"] + faults["ssh_refuse_seconds"],
                    "init_pid": None,
                    "unshare_pid": None,
                }
                self.state["next_droplet_id"] += 1
                self.droplets[droplet["id"]] = droplet
                created.append(droplet)
                self.log(f"droplet {droplet['id']} {name} {droplet['ip']}: created")
            for tag in tags:
                if tag not in self.state["tags"]:
                    self.state["tags"].append(tag)
            self._save()
        for droplet in created:
            self._spawn(self._boot, droplet["id"])
        return created

    def _requested_names(self, body: dict) -> list[str]:
        if "names" in body and body["names"] is not None:
            names = body["names"]
            if not isinstance(names, list) or not names:
                raise unprocessable("names must be a list of droplet names")
            if len(names) > MAX_NAMES_PER_CREATE:
                raise unprocessable(
                    f"You can create at most {MAX_NAMES_PER_CREATE} droplets in one request"
                )
        elif isinstance(body.get("name"), str):
            names = [body["name"]]
        else:
            raise unprocessable("Name is required")
        for name in names:
            if not isinstance(name, str) or not DROPLET_NAME.match(name):
                raise unprocessable(
                    f"Name {name!r} is invalid: only letters, numbers, dots and dashes"
                )
        return names

    def _placement(self, body: dict) -> tuple[str, str, str]:
        size = catalog.size(str(body.get("size")))
        if size is None:
            raise unprocessable("You specified an invalid size for Droplet creation.")
        region_slug = body.get("region") or size["regions"][0]
        if catalog.region(str(region_slug)) is None:
            raise unprocessable("You specified an invalid region for Droplet creation.")
        if region_slug not in size["regions"]:
            raise unprocessable("Size is not available in this region.")
        image = catalog.image(body.get("image"))
        if image is None:
            raise unprocessable("You specified an invalid image for Droplet creation.")
        return size["slug"], region_slug, image["slug"]

    def _requested_keys(self, refs) -> list[int]:
        # Without ssh_keys, DO mails a root password; here nobody can log in at all.
        if refs is None:
            return []
        if not isinstance(refs, list):
            raise unprocessable("ssh_keys must be a list of key ids or fingerprints")
        ids = []
        for ref in refs:
            key = self._find_key(str(ref))
            if key is None:
                raise unprocessable(f"You specified an invalid ssh key: {ref}")
            ids.append(key["id"])
        return ids

    def _allocate_ip(self) -> str:
        host = self.state["next_host"]
        if host >= HOSTS_PER_NET:
            raise unprocessable(f"this local cloud has used every address of 127.{self.net}/16")
        self.state["next_host"] = host + 1
        return f"127.{self.net}.{host // 254}.{host % 254 + 1}"

    # ---- droplets: lifecycle

    def _boot(self, droplet_id: int) -> None:
        with self.lock:
            droplet = self.droplets.get(droplet_id)
            if droplet is None:
                return
            keys = [
                k["public_key"] for k in self.state["ssh_keys"] if k["id"] in droplet["ssh_keys"]
            ]
        try:
            with self.slots:
                droplets.prepare(self.paths, droplet_id, droplet["name"], droplet["ip"], keys)
                self._launch(droplet, max(0.0, droplet["ssh_at"] - time.time()))
        except Exception:
            with self.lock:
                deleted = self.droplets.get(droplet_id) is not droplet
            if not deleted:
                raise
            # Deleted while its files were being copied: the copy may have outlived the delete.
            droplets.remove(self.paths, droplet_id)
            return
        refuses_ssh = droplet["ssh_at"] > droplet["active_at"]
        running = self.sandboxes.get(droplet_id)
        if running and not refuses_ssh:
            droplets.wait_for_ssh(droplet["ip"], running)
        if self.closing.wait(max(0.0, droplet["active_at"] - time.time())):
            return
        with self.lock:
            if self.droplets.get(droplet_id) is droplet and droplet["status"] == "new":
                note = "ssh refused for a while" if refuses_ssh else ""
                self._set_status(droplet, "active", note)

    def _launch(self, droplet: dict, delay: float) -> None:
        running = droplets.launch(self.paths, droplet["id"], droplet["name"], delay)
        with self.lock:
            if self.droplets.get(droplet["id"]) is droplet:
                self.sandboxes[droplet["id"]] = running
                droplet["init_pid"] = running.init_pid
                droplet["unshare_pid"] = running.unshare.pid
                self._save()
                return
        # Deleted while it booted: nobody else knows about this sandbox.
        droplets.kill(self.paths, droplet["id"], running.init_pid, running.unshare)
        droplets.remove(self.paths, droplet["id"])

    def _halt(self, droplet_id: int) -> None:
        with self.lock:
            running = self.sandboxes.pop(droplet_id, None)
        if running:
            droplets.kill(self.paths, droplet_id, running.init_pid, running.unshare)

    def _destroy(self, droplet_id: int) -> None:
        self._halt(droplet_id)
        droplets.remove(self.paths, droplet_id)

    def delete(self, droplet_id: int, note: str = "deleted") -> None:
        with self.lock:
            droplet = self.droplets.pop(droplet_id, None)
            if droplet is None:
                raise not_found()
            self.log(f"droplet {droplet_id} {droplet['name']} {droplet['ip']}: {note}")
            self._save()
        self._spawn(self._destroy, droplet_id)

    def delete_by_tag(self, tag: str) -> int:
        with self.lock:
            ids = [d["id"] for d in self.droplets.values() if tag in d["tags"]]
            for droplet_id in ids:
                self.delete(droplet_id)
        return len(ids)

    def vanish(self) -> None:
        """Delete droplets the `vanish` faults name, as if someone deleted them elsewhere."""
        faults = self.faults.api()
        targets, after = set(faults["vanish"]), faults["vanish_after_seconds"]
        if not targets and after is None:
            return
        now = time.time()
        with self.lock:
            doomed = [
                d["id"]
                for d in self.droplets.values()
                if (not targets or d["name"] in targets or str(d["id"]) in targets)
                and now - d["created"] >= (after or 0.0)
            ]
            for droplet_id in doomed:
                self.delete(droplet_id, note="vanished (fault)")

    def shutdown(self, timeout: float) -> int:
        """Delete every droplet and wait for the background work to finish."""
        with self.lock:
            self.closing.set()
            ids = list(self.droplets)
            for droplet_id in ids:
                self.delete(droplet_id, note="deleted (cloud stopping)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                workers = list(self.workers)
            if not workers:
                break
            workers[0].join(max(0.0, deadline - time.monotonic()))
        return len(ids)

    # ---- droplets: reading

    def get(self, droplet_id) -> dict:
        with self.lock:
            droplet = self.droplets.get(_as_int(droplet_id))
            if droplet is None:
                raise not_found()
            return self.droplet_json(droplet)

    def find(self, tag_name: str | None = None, name: str | None = None) -> list[dict]:
        with self.lock:
            return [
                self.droplet_json(d)
                for d in sorted(self.droplets.values(), key=lambda d: d["id"])
                if (tag_name is None or tag_name in d["tags"])
                and (name is None or d["name"] == name)
            ]

    def droplet_json(self, droplet: dict) -> dict:
        size = catalog.size(droplet["size_slug"])
        region = catalog.region(droplet["region"])
        image = catalog.image(droplet["image"])
        # Like the real API, the address shows up once the droplet has booted.
        v4 = []
        if droplet["status"] != "new":
            v4 = [
                {
                    "ip_address": droplet["ip"],
                    "netmask": "255.255.0.0",
                    "gateway": "127.0.0.1",
                    "type": "public",
                }
            ]
        return {
            "id": droplet["id"],
            "name": droplet["name"],
            "memory": size["memory"],
            "vcpus": size["vcpus"],
            "disk": size["disk"],
            "locked": False,
            "status": droplet["status"],
            "kernel": None,
            "created_at": iso(droplet["created"]),
            "features": ["droplet_agent"],
            "backup_ids": [],
            "next_backup_window": None,
            "snapshot_ids": [],
            "image": image,
            "volume_ids": [],
            "size": size,
            "size_slug": droplet["size_slug"],
            "networks": {"v4": v4, "v6": []},
            "region": region,
            "tags": list(droplet["tags"]),
            "vpc_uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{droplet['region']}.vpc.local")),
        }

    # ---- droplet actions

    def act(self, droplet_id, body: dict) -> dict:
        kind = body.get("type")
        if kind not in POWER_ACTIONS:
            raise unprocessable(
                f"Action type {kind!r} is not supported; supported: {', '.join(POWER_ACTIONS)}"
            )
        with self.lock:
            droplet = self.droplets.get(_as_int(droplet_id))
            if droplet is None:
                raise not_found()
            action = {
                "id": self.next_action_id,
                "status": "in-progress",
                "type": kind,
                "started_at": iso(time.time()),
                "completed_at": None,
                "resource_id": droplet["id"],
                "resource_type": "droplet",
                "region": catalog.region(droplet["region"]),
                "region_slug": droplet["region"],
            }
            self.next_action_id += 1
            self.actions[action["id"]] = action
            # Powering on a running droplet (the collection does so after every create) or off
            # a stopped one changes nothing, so it is done before the answer, as DO's nearly is.
            if (kind, droplet["status"]) in (("power_on", "active"), ("power_off", "off")):
                action["status"] = "completed"
                action["completed_at"] = action["started_at"]
                return dict(action)
        self._spawn(self._run_action, droplet, action)
        return dict(action)

    def _run_action(self, droplet: dict, action: dict) -> None:
        kind = action["type"]
        if kind in ("power_off", "shutdown", "reboot", "power_cycle"):
            if droplet["status"] == "active":
                self._halt(droplet["id"])
                with self.lock:
                    if self.droplets.get(droplet["id"]) is droplet:
                        self._set_status(droplet, "off", kind)
        if kind in ("power_on", "reboot", "power_cycle") and droplet["status"] == "off":
            with self.slots:
                self._launch(droplet, 0.0)
            running = self.sandboxes.get(droplet["id"])
            if running:
                droplets.wait_for_ssh(droplet["ip"], running)
            with self.lock:
                if self.droplets.get(droplet["id"]) is droplet:
                    self._set_status(droplet, "active", kind)
        with self.lock:
            action["status"] = "completed"
            action["completed_at"] = iso(time.time())

    def action(self, action_id, droplet_id=None) -> dict:
        with self.lock:
            action = self.actions.get(_as_int(action_id))
            if action is None or (
                droplet_id is not None and action["resource_id"] != _as_int(droplet_id)
            ):
                raise not_found()
            return dict(action)

    # ---- tags

    def tag_json(self, name: str) -> dict:
        with self.lock:
            count = sum(1 for d in self.droplets.values() if name in d["tags"])
            last = max(
                (d for d in self.droplets.values() if name in d["tags"]),
                key=lambda d: d["id"],
                default=None,
            )
        droplet_resources = {"count": count}
        if last is not None:
            droplet_resources["last_tagged_uri"] = f"droplets/{last['id']}"
        return {
            "name": name,
            "resources": {
                "count": count,
                "droplets": droplet_resources,
                "images": {"count": 0},
                "volumes": {"count": 0},
                "volume_snapshots": {"count": 0},
                "databases": {"count": 0},
            },
        }

    def tags(self) -> list[dict]:
        with self.lock:
            names = list(self.state["tags"])
        return [self.tag_json(n) for n in names]

    def tag(self, name: str) -> dict:
        with self.lock:
            if name not in self.state["tags"]:
                raise not_found()
        return self.tag_json(name)

    def create_tag(self, body: dict) -> dict:
        name = body.get("name")
        if not isinstance(name, str) or not TAG_NAME.match(name):
            raise unprocessable(
                "Name may contain letters, numbers, colons, dashes and underscores"
            )
        with self.lock:
            if name in self.state["tags"]:
                raise unprocessable("Tag already exists")
            self.state["tags"].append(name)
            self._save()
        return self.tag_json(name)

    def delete_tag(self, name: str) -> None:
        with self.lock:
            if name not in self.state["tags"]:
                raise not_found()
            self.state["tags"].remove(name)
            for droplet in self.droplets.values():
                if name in droplet["tags"]:
                    droplet["tags"].remove(name)
            self._save()

    def retag(self, name: str, body: dict, add: bool) -> None:
        resources = body.get("resources")
        if not isinstance(resources, list) or not resources:
            raise unprocessable("resources must list {resource_id, resource_type} objects")
        with self.lock:
            if name not in self.state["tags"]:
                raise not_found()
            targets = []
            for resource in resources:
                if not isinstance(resource, dict) or resource.get("resource_type") != "droplet":
                    raise unprocessable("only droplets can be tagged in the local cloud")
                droplet = self.droplets.get(_as_int(resource.get("resource_id")))
                if droplet is None:
                    raise not_found()
                targets.append(droplet)
            for droplet in targets:
                if add and name not in droplet["tags"]:
                    droplet["tags"].append(name)
                elif not add and name in droplet["tags"]:
                    droplet["tags"].remove(name)
            self._save()


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
