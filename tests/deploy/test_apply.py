"""The rendered overlays applied with the real `kubernetes` client to the Kubernetes API test
server: it accepts every object (its validation is the real server's, strict), stores it as
sent, and its Deployment controller starts the bot's pods."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic, utils
from kubernetes.client import ApiException

from bot.testing.kube.api import KubeApiServer
from tests.deploy.manifests import KUSTOMIZE, OVERLAYS, find, render

ALLOWLISTS = {"quickstart": ["staging"], "production": ["payments", "orders"]}

# The client's helpers are not annotated.
new_client_from_config: Callable[..., client.ApiClient] = config.new_client_from_config
create_from_yaml: Callable[..., list[Any]] = utils.create_from_yaml
create_from_dict: Callable[..., list[Any]] = utils.create_from_dict
DynamicClient: Callable[[client.ApiClient], Any] = dynamic.DynamicClient


@pytest.fixture
def api_client(kube_api: KubeApiServer, kubeconfig: Path) -> Iterator[client.ApiClient]:
    with new_client_from_config(config_file=str(kubeconfig)) as api:
        yield api


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_server_accepts_every_object_and_gives_it_back_as_sent(
    kube_api: KubeApiServer, api_client: client.ApiClient, overlay: str
) -> None:
    objects = render(KUSTOMIZE / "overlays" / overlay)
    # The allowlist's namespaces are the team's; they exist before chaosbot is installed.
    for namespace in ALLOWLISTS[overlay]:
        kube_api.add_namespace(namespace)

    created = create_from_yaml(api_client, yaml_objects=copy.deepcopy(objects))

    assert len(created) == len(objects)
    resources = DynamicClient(api_client).resources
    for obj in objects:
        kind, metadata = obj["kind"], obj["metadata"]
        resource = resources.get(api_version=obj["apiVersion"], kind=kind)
        stored = resource.get(name=metadata["name"], namespace=metadata.get("namespace")).to_dict()
        assert stored["metadata"]["uid"], (kind, metadata["name"])
        # The server adds a namespace's kubernetes.io/metadata.name label, nothing else.
        assert (metadata.get("labels") or {}).items() <= (
            stored["metadata"].get("labels") or {}
        ).items()
        for field in ("spec", "data", "rules", "roleRef", "subjects"):
            if field in obj:
                assert _holds(stored[field], obj[field]), (kind, metadata["name"], field)

    deployment = find(objects, "Deployment", "chaosbot")
    pods = client.CoreV1Api(api_client).list_namespaced_pod(
        "chaosbot", label_selector="app.kubernetes.io/component=bot"
    )
    assert len(pods.items) == deployment["spec"]["replicas"]
    for pod in pods.items:
        assert pod.spec is not None and pod.spec.security_context is not None
        assert pod.spec.service_account_name == "chaosbot"
        assert pod.spec.security_context.run_as_user == 10001


def _holds(stored: object, sent: object) -> bool:
    """Whether the stored value is what was sent, give or take the fields the server defaults
    (a Service's clusterIP, ...): every field sent is there with the same value."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            key in stored and _holds(stored[key], value) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list) and len(stored) == len(sent) and all(map(_holds, stored, sent))
        )
    return stored == sent


def test_a_broken_patch_would_be_refused_as_the_real_server_refuses_it(
    kube_api: KubeApiServer, api_client: client.ApiClient
) -> None:
    """The quickstart swaps the base's emptyDir for its claim and makes the strategy Recreate; a
    patch that left the emptyDir, or kept a rollingUpdate, is a 422 with the server's causes."""
    objects = render(KUSTOMIZE / "overlays" / "quickstart")
    deployment = copy.deepcopy(find(objects, "Deployment", "chaosbot"))
    kube_api.add_namespace("chaosbot")
    spec = deployment["spec"]
    (data,) = [v for v in spec["template"]["spec"]["volumes"] if v["name"] == "data"]
    data["emptyDir"] = {}
    spec["strategy"]["rollingUpdate"] = {"maxSurge": 1}

    with pytest.raises(utils.FailToCreateError) as raised:
        create_from_dict(api_client, deployment)

    (error,) = raised.value.api_exceptions
    assert error.status == 422
    status = json.loads(error.body)
    assert status["reason"] == "Invalid"
    index = [v["name"] for v in spec["template"]["spec"]["volumes"]].index("data")
    assert {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: may not specify more than 1 volume type",
        "field": f"spec.template.spec.volumes[{index}].persistentVolumeClaim",
    } in status["details"]["causes"]
    assert {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        "field": "spec.strategy.rollingUpdate",
    } in status["details"]["causes"]


def test_a_job_whose_pods_restart_always_is_refused(
    kube_api: KubeApiServer, api_client: client.ApiClient
) -> None:
    objects = render(KUSTOMIZE / "overlays" / "production")
    kube_api.add_namespace("chaosbot")
    job: Any = copy.deepcopy(find(objects, "Job", "chaosbot-migrate"))
    del job["spec"]["template"]["spec"]["restartPolicy"]
    cronjob: Any = copy.deepcopy(find(objects, "CronJob", "chaosbot-cleanup"))
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"

    batch = client.BatchV1Api(api_client)
    for create, body, field in (
        (batch.create_namespaced_job, job, "spec.template.spec.restartPolicy"),
        (
            batch.create_namespaced_cron_job,
            cronjob,
            "spec.jobTemplate.spec.template.spec.restartPolicy",
        ),
    ):
        with pytest.raises(ApiException) as raised:
            create("chaosbot", body)
        assert raised.value.status == 422
        (cause,) = json.loads(raised.value.body or "{}")["details"]["causes"]
        assert cause == {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Always": supported values: "OnFailure", "Never"',
            "field": field,
        }
