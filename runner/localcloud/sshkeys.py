"""SSH keys of the stand-in account: the cloud's own keypair and the fingerprints DO shows.

DigitalOcean names a registered key by an id or by the MD5 fingerprint of its public
blob in colon form (`3b:16:bf:...`); droplets are created with either, so the stand-in
computes the same fingerprint for every key it registers.
"""

import base64
import binascii
import hashlib
import subprocess
from pathlib import Path

KEY_COMMENT = "badger-swarm-localcloud"


class InvalidPublicKey(ValueError):
    pass


def md5_fingerprint(public_key: str) -> str:
    """The colon-separated MD5 fingerprint of an OpenSSH public key line."""
    fields = public_key.strip().split()
    if len(fields) < 2 or not fields[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise InvalidPublicKey("not an OpenSSH public key line")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidPublicKey("the key's base64 part does not decode") from e
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ensure_keypair(private_key: Path) -> str:
    """Create an ed25519 keypair at `private_key` (+ .pub) unless present; return the .pub line."""
    public_key = private_key.with_name(private_key.name + ".pub")
    if not (private_key.exists() and public_key.exists()):
        private_key.parent.mkdir(parents=True, exist_ok=True)
        for stale in (private_key, public_key):
            stale.unlink(missing_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", KEY_COMMENT]
            + ["-f", str(private_key)],
            check=True,
            capture_output=True,
        )
    private_key.chmod(0o600)
    return public_key.read_text().strip()


def ensure_host_key(key: Path) -> Path:
    """The ed25519 host key every droplet of one cloud presents (generated once)."""
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.with_name(key.name + ".pub").unlink(missing_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "localcloud-host"]
            + ["-f", str(key)],
            check=True,
            capture_output=True,
        )
    return key
