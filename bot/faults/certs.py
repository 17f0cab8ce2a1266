"""Certificate expiry: find certificates that expire soon, swap in an expired one, put it back.

The swapped-in certificate copies the original's subject and names and is signed with the
secret's own key (so tls.key still matches), but it cannot be signed by the real issuer:
strict clients report an unknown issuer as well as the expiry. Either way they must fail
closed, and the team's expiry monitoring must notice; that is what the experiment tests.
cert-manager re-issues a certificate it manages when it sees the secret change, which the
experiment then shows as a fast recovery.

The original data never goes into an annotation (annotations are shown by `kubectl describe`
and land in audit logs): it is kept in a labelled backup Secret beside the original, and the
original's `chaosbot.io/original` annotation names that backup and the data's digest.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from bot.faults.args import as_float, run_label_value
from bot.faults.kube import SECRETS, Kube, KubeError, Obj, Secrets
from bot.faults.marks import (
    RUN_LABEL,
    Mark,
    claim,
    claimed_by,
    created_metadata,
    original_of,
    release,
)
from bot.faults.workloads import service_pods

__all__ = [
    "backed_up_secret",
    "backup_still_needed",
    "expired_copy",
    "expiring_certificates",
    "not_after",
    "restore_certificate",
    "restore_certificates",
    "retire_backup",
    "swap_in_expired_certificate",
]

TLS_TYPE = "kubernetes.io/tls"
BACKUP_OF = "chaosbot.io/backup-of"
_SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def expiring_certificates(
    namespace: str, within_days: Any = 30, url: str = "", secrets: Secrets = None
) -> list[Obj]:
    """The namespace's TLS secrets (and an https `url`'s certificate) expiring within N days."""
    horizon = datetime.now(UTC) + timedelta(days=as_float(within_days, "within_days"))
    found: list[Obj] = []
    for secret in Kube(secrets).list(SECRETS, namespace, fields=f"type={TLS_TYPE}"):
        entry = _expiry({"secret": secret["metadata"]["name"]}, _data(secret, "tls.crt"))
        if "error" in entry or datetime.fromisoformat(entry["not_after"]) <= horizon:
            found.append(entry)
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        try:
            pem = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=5)
        except OSError as error:
            found.append({"endpoint": url, "error": str(error)})
        else:
            entry = _expiry({"endpoint": url}, pem.encode())
            if "error" in entry or datetime.fromisoformat(entry["not_after"]) <= horizon:
                found.append(entry)
    return found


def swap_in_expired_certificate(
    namespace: str,
    label_selector: str,
    run_id: str,
    secret_name: str = "",
    secrets: Secrets = None,
    configuration: Configuration = None,
) -> list[str]:
    """Replace the certificate of `secret_name` (or of every TLS secret the pods mount)."""
    kube, mark = Kube(secrets), Mark.of(run_id, configuration)
    names = [secret_name] if secret_name else _mounted_tls_secrets(kube, namespace, label_selector)
    if not names:
        raise ActivityFailed(
            f"the pods matching {label_selector} mount no {TLS_TYPE} secret; set secret_name"
        )
    for name in names:
        secret = kube.get(SECRETS, namespace, name)
        if secret is None or secret.get("type") != TLS_TYPE:
            raise ActivityFailed(f"there is no {TLS_TYPE} secret {name} in {namespace}")
        if claimed_by(secret) == mark.run:
            continue
        backup = _keep_backup(kube, secret, mark)
        kube.change(SECRETS, namespace, name, functools.partial(_swap, mark=mark, backup=backup))
    return names


def restore_certificates(namespace: str, run_id: str, secrets: Secrets = None) -> list[str]:
    """Put every swapped secret's original data back, then delete the backups no longer needed."""
    kube, run = Kube(secrets), run_label_value(run_id)
    labelled = kube.list(SECRETS, namespace, labels=f"{RUN_LABEL}={run}")
    backups = [s for s in labelled if backed_up_secret(s) is not None]
    restored = []
    for secret in (s for s in labelled if backed_up_secret(s) is None):
        restore_certificate(kube, secret, run)
        restored.append(secret["metadata"]["name"])
    for backup in backups:
        if backup_still_needed(kube, backup, run):
            continue  # not restored: keep the only copy of the original
        if retire_backup(kube, backup):
            restored.append(str(backed_up_secret(backup)))
    return restored


def restore_certificate(kube: Kube, secret: Obj, run: str) -> None:
    """Put the original data back into one secret the run swapped (from its backup), unlabel it."""
    namespace, name = secret["metadata"]["namespace"], secret["metadata"]["name"]
    backup_name = str(original_of(secret).get("backup"))
    backup = kube.get(SECRETS, namespace, backup_name)
    if backup is None or backed_up_secret(backup) != name:
        raise ActivityFailed(f"the backup of {name} is missing: it keeps the expired certificate")
    kube.change(SECRETS, namespace, name, functools.partial(_unswap, run=run, backup=backup))


def backed_up_secret(secret: Obj) -> str | None:
    """The secret whose original data this backup holds (None: not a backup)."""
    return _annotations(secret).get(BACKUP_OF)


def backup_still_needed(kube: Kube, backup: Obj, run: str) -> bool:
    """Whether the backed-up secret still holds the run's expired certificate."""
    current = kube.get(SECRETS, backup["metadata"]["namespace"], str(backed_up_secret(backup)))
    return current is not None and claimed_by(current) == run


def retire_backup(kube: Kube, backup: Obj) -> bool:
    """Delete a backup whose secret is restored; True when the secret had to be created again.

    A secret deleted meanwhile is created again from the backup first, since the backup holds
    the only copy of its original data. Check `backup_still_needed` first.
    """
    namespace, target = backup["metadata"]["namespace"], str(backed_up_secret(backup))
    recreated = False
    if kube.get(SECRETS, namespace, target) is None:
        body = {"apiVersion": "v1", "kind": "Secret", "type": TLS_TYPE, "data": backup["data"]}
        try:
            kube.create(SECRETS, namespace, {**body, "metadata": {"name": target}})
            recreated = True
        except KubeError as error:
            if error.status != 409:  # created meanwhile (by someone, or cert-manager): keep it
                raise
    kube.delete(SECRETS, namespace, backup["metadata"]["name"])
    return recreated


def expired_copy(cert_pem: bytes, key_pem: bytes | None) -> tuple[bytes, bytes | None]:
    """A self-signed certificate like cert_pem that expired yesterday, and a new key if needed.

    It is signed with key_pem's key when that key can sign; otherwise with a new EC key,
    returned so the secret's tls.key can be replaced to match.
    """
    original = _first_certificate(cert_pem)
    key: Any = None
    if key_pem:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            key = None
    new_key_pem = None
    if not isinstance(key, _SigningKey):
        key = ec.generate_private_key(ec.SECP256R1())
        new_key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    subject = original.subject if original else None
    subject = subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chaosbot-expired")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
    )
    if original is not None:
        try:
            names = original.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            builder = builder.add_extension(names.value, critical=names.critical)
        except x509.ExtensionNotFound:
            pass
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(key, algorithm)
    return certificate.public_bytes(serialization.Encoding.PEM), new_key_pem


def not_after(cert_pem: bytes) -> datetime | None:
    """When the first certificate of a PEM bundle expires (None if there is none)."""
    certificate = _first_certificate(cert_pem)
    return certificate.not_valid_after_utc if certificate else None


def _keep_backup(kube: Kube, secret: Obj, mark: Mark) -> Obj:
    """Create (or find, on a second attempt) the labelled backup of a secret's data."""
    name, namespace = secret["metadata"]["name"], secret["metadata"]["namespace"]
    metadata = created_metadata(f"chaosbot-backup-{mark.run}-{name}", namespace, mark)
    metadata["annotations"][BACKUP_OF] = name
    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata}
    try:
        return kube.create(SECRETS, namespace, {**body, "data": secret.get("data") or {}})
    except KubeError as error:
        existing = kube.get(SECRETS, namespace, metadata["name"]) if error.status == 409 else None
        if existing is None or _annotations(existing).get(BACKUP_OF) != name:
            raise
        return existing


def _swap(secret: Obj, mark: Mark, backup: Obj) -> bool:
    if claimed_by(secret) == mark.run:
        return False
    data = secret.get("data") or {}
    if _digest(data) != _digest(backup.get("data") or {}):
        raise ActivityFailed(f"{secret['metadata']['name']} changed while it was being backed up")
    claim(secret, mark, {"backup": backup["metadata"]["name"], "sha256": _digest(data)})
    cert, key = expired_copy(_data(secret, "tls.crt"), _data(secret, "tls.key") or None)
    data["tls.crt"] = base64.b64encode(cert).decode()
    if key is not None:
        data["tls.key"] = base64.b64encode(key).decode()
    secret["data"] = data
    return True


def _unswap(secret: Obj, run: str, backup: Obj) -> bool:
    if claimed_by(secret) != run:
        return False
    secret["data"] = dict(backup.get("data") or {})
    release(secret)
    return True


def _mounted_tls_secrets(kube: Kube, namespace: str, label_selector: str) -> list[str]:
    names: set[str] = set()
    for pod in service_pods(kube, namespace, label_selector):
        for volume in pod["spec"].get("volumes") or []:
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "secret" in source:
                    names.add(source["secret"]["name"])
    tls = [
        n for n in sorted(names) if (kube.get(SECRETS, namespace, n) or {}).get("type") == TLS_TYPE
    ]
    return tls


def _expiry(entry: Obj, pem: bytes) -> Obj:
    expires = not_after(pem)
    if expires is None:
        return {**entry, "error": "no readable certificate"}
    days_left = (expires - datetime.now(UTC)).total_seconds() / 86400
    return {**entry, "not_after": expires.isoformat(), "days_left": round(days_left, 1)}


def _first_certificate(pem: bytes) -> x509.Certificate | None:
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return None
    return certificates[0] if certificates else None


def _data(secret: Obj, key: str) -> bytes:
    value = (secret.get("data") or {}).get(key)
    return base64.b64decode(value) if value else b""


def _digest(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _annotations(obj: Obj) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})
