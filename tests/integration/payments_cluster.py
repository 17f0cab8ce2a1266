"""The cluster the fault tests run against: a `payments` namespace with a `checkout` service.

Six nodes in three zones; checkout is a Deployment of three pods that mounts a TLS secret and a
ConfigMap, behind a Service; `ledger` is a bystander whose pods a fault must not touch.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.testing.kube.api import KubeApiServer
from bot.testing.kube.seed import container

__all__ = [
    "NAMESPACE",
    "SELECTOR",
    "certificate_pair",
    "secret_text",
    "seed_payments",
    "seed_with_budget",
]

NAMESPACE = "payments"
SELECTOR = "app=checkout"


def seed_payments(kube: KubeApiServer) -> None:
    """Six nodes in three zones; checkout (3 pods, TLS secret, ConfigMap, Service), ledger."""
    for index in range(6):
        kube.add_node(f"node-{index + 1}", zone=f"zone-{'abc'[index // 2]}")
    kube.add_namespace(NAMESPACE)
    certificate, key = certificate_pair(days_left=10)
    kube.add_secret(
        NAMESPACE,
        "checkout-tls",
        data={"tls.crt": certificate, "tls.key": key},
        secret_type="kubernetes.io/tls",
    )
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"mode": "live"}}
    kube.add_object("configmaps", {**config_map, "metadata": _meta("checkout-config")})
    app = container(
        resources={
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        ports=[8443],
    )
    app["volumeMounts"] = [
        {"name": "tls", "mountPath": "/tls"},
        {"name": "config", "mountPath": "/config"},
    ]
    volumes = [
        {"name": "tls", "secret": {"secretName": "checkout-tls"}},
        {"name": "config", "configMap": {"name": "checkout-config"}},
    ]
    labels = {"app": "checkout"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("checkout", labels),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [app], "volumes": volumes},
            },
        },
    }
    kube.add_object("deployments", deployment)
    service_spec = {"selector": labels, "ports": [{"port": 443, "targetPort": 8443}]}
    service = {"apiVersion": "v1", "kind": "Service", "spec": service_spec}
    kube.add_object("services", {**service, "metadata": _meta("checkout", labels)})
    kube.add_deployment(NAMESPACE, "ledger", replicas=2, labels={"app": "ledger"})


def certificate_pair(*, days_left: float) -> tuple[bytes, bytes]:
    """A self-signed certificate for checkout.payments expiring in `days_left` days, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "checkout.payments")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=80))
        .not_valid_after(now + timedelta(days=days_left))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("checkout.payments.svc")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def secret_text(secret: Mapping[str, Any], key: str) -> bytes:
    """A secret's value, decoded."""
    return base64.b64decode(secret["data"][key])


def _meta(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, **({"labels": dict(labels)} if labels else {})}


def seed_with_budget(kube: KubeApiServer) -> None:
    """The payments cluster plus a budget that allows no checkout pod to be evicted."""
    seed_payments(kube)
    kube.add_pdb(NAMESPACE, "checkout", selector={"app": "checkout"}, min_available=3)
