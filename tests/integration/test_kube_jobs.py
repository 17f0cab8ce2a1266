"""The Kubernetes API test server's Job controller and kubelet for Jobs: a Job's container
command runs as a local process, and the Job's and pod's statuses follow it as a real cluster's
do (through the real `kubernetes` client)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from bot.testing.kube.api import KubeApiServer, KubeletConfig
from bot.testing.polling import eventually


@pytest.fixture
def jobs_api(tmp_path: Path) -> Iterator[KubeApiServer]:
    with KubeApiServer(kubelet=KubeletConfig(workdir=tmp_path)) as api:
        api.add_node("node-0")
        api.add_namespace("chaosbot")
        yield api


@pytest.fixture
def batch(jobs_api: KubeApiServer, tmp_path: Path) -> client.BatchV1Api:
    path = jobs_api.write_kubeconfig(tmp_path / "admin.kubeconfig")
    new_client: Callable[..., client.ApiClient] = config.new_client_from_config
    return client.BatchV1Api(new_client(config_file=str(path)))


def _job(name: str, command: list[str], **spec: Any) -> Any:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "run"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "worker", "image": "chaosbot:test", "command": command}
                    ],
                    **spec.pop("pod", {}),
                }
            },
            **spec,
        },
    }


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _until(read: Callable[[], Any], timeout: float = 20) -> Any:
    return eventually(read, timeout=timeout)


def _condition(job: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == kind and condition["status"] == "True":
            return dict(condition)
    return None


def _pods(api: KubeApiServer, job: str) -> list[dict[str, Any]]:
    return api.list("pods", "chaosbot", label_selector=f"job-name={job}")


def test_a_job_runs_its_command_and_completes(
    jobs_api: KubeApiServer, batch: client.BatchV1Api, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code = (
        f"import os, pathlib; pathlib.Path({str(out)!r}).write_text("
        "os.environ['HOSTNAME'] + ' ' + os.environ['KUBECONFIG'])"
    )
    created = batch.create_namespaced_job("chaosbot", _job("hello", _python(code)))
    plain = batch.api_client.sanitize_for_serialization(created)
    uid = plain["metadata"]["uid"]
    assert plain["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": uid}
    job = _until(lambda: _condition(jobs_api.get("jobs", "chaosbot", "hello"), "Complete"))
    assert job["reason"] == "CompletionsReached"
    stored = jobs_api.get("jobs", "chaosbot", "hello")
    assert stored is not None
    status = stored["status"]
    assert status["succeeded"] == 1 and "active" not in status and "failed" not in status
    assert status["startTime"] and status["completionTime"]
    assert _condition(stored, "SuccessCriteriaMet") is not None
    (pod,) = _pods(jobs_api, "hello")
    name = pod["metadata"]["name"]
    assert name.startswith("hello-") and len(name) == len("hello-") + 5
    for label in ("job-name", "batch.kubernetes.io/job-name"):
        assert pod["metadata"]["labels"][label] == "hello"
    for label in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        assert pod["metadata"]["labels"][label] == uid
    (owner,) = pod["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Job", uid, True)
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    hostname, kubeconfig = out.read_text().split(" ")
    assert hostname == name
    assert f"server: {jobs_api.url}" in Path(kubeconfig).read_text()


def test_a_failed_pod_fails_a_job_with_no_retries(
    jobs_api: KubeApiServer, batch: client.BatchV1Api
) -> None:
    batch.create_namespaced_job("chaosbot", _job("broken", _python("raise SystemExit(3)")))
    failed = _until(lambda: _condition(jobs_api.get("jobs", "chaosbot", "broken"), "Failed"))
    assert failed["reason"] == "BackoffLimitExceeded"
    job = jobs_api.get("jobs", "chaosbot", "broken")
    assert _condition(job, "FailureTarget") is not None
    assert job is not None and job["status"]["failed"] == 1
    (pod,) = _pods(jobs_api, "broken")  # one pod: backoffLimit 0 starts no other
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_a_job_past_its_deadline_is_stopped(
    jobs_api: KubeApiServer, batch: client.BatchV1Api, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(600)"
    )
    body = _job("slow", _python(code % str(pid_file)), activeDeadlineSeconds=1)
    batch.create_namespaced_job("chaosbot", body)
    pid = int(_until(lambda: pid_file.exists() and pid_file.read_text()))
    failed = _until(lambda: _condition(jobs_api.get("jobs", "chaosbot", "slow"), "Failed"))
    assert failed["reason"] == "DeadlineExceeded"
    assert _pods(jobs_api, "slow") == []  # its pod is deleted
    _until(lambda: not _alive(pid))


def test_ttl_after_finished_deletes_the_job_and_its_pods(
    jobs_api: KubeApiServer, batch: client.BatchV1Api
) -> None:
    batch.create_namespaced_job(
        "chaosbot", _job("brief", _python("pass"), ttlSecondsAfterFinished=0)
    )
    _until(lambda: jobs_api.get("jobs", "chaosbot", "brief") is None)
    assert _pods(jobs_api, "brief") == []


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_deleting_a_job_with_propagation_stops_its_process(
    jobs_api: KubeApiServer, batch: client.BatchV1Api, tmp_path: Path, policy: str
) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(600)"
    )
    batch.create_namespaced_job("chaosbot", _job("held", _python(code % str(pid_file))))
    pid = int(_until(lambda: pid_file.exists() and pid_file.read_text()))
    running = jobs_api.get("jobs", "chaosbot", "held")
    assert running is not None and running["status"]["active"] == 1
    assert running["status"]["ready"] == 1
    batch.delete_namespaced_job("held", "chaosbot", propagation_policy=policy)
    assert _pods(jobs_api, "held") == []
    _until(lambda: not _alive(pid))


def test_deleting_a_job_without_a_policy_orphans_its_pod(
    jobs_api: KubeApiServer, batch: client.BatchV1Api, tmp_path: Path
) -> None:
    """batch/v1's default for Jobs is orphan: the pod (and its process) stays."""
    pid_file = tmp_path / "pid"
    code = "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(1)"
    batch.create_namespaced_job("chaosbot", _job("kept", _python(code % str(pid_file))))
    pid = int(_until(lambda: pid_file.exists() and pid_file.read_text()))
    batch.delete_namespaced_job("kept", "chaosbot")
    (pod,) = _pods(jobs_api, "kept")
    assert "ownerReferences" not in pod["metadata"]
    assert _alive(pid)
    # The orphan still finishes as a pod does.
    _until(lambda: _pods(jobs_api, "kept")[0]["status"]["phase"] == "Succeeded")


def test_deleting_the_pod_stops_its_process_and_fails_the_job(
    jobs_api: KubeApiServer, batch: client.BatchV1Api, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(600)"
    )
    batch.create_namespaced_job("chaosbot", _job("victim", _python(code % str(pid_file))))
    pid = int(_until(lambda: pid_file.exists() and pid_file.read_text()))
    (pod,) = _pods(jobs_api, "victim")
    core = client.CoreV1Api(batch.api_client)
    core.delete_namespaced_pod(pod["metadata"]["name"], "chaosbot")
    _until(lambda: not _alive(pid))
    failed = _until(lambda: _condition(jobs_api.get("jobs", "chaosbot", "victim"), "Failed"))
    assert failed["reason"] == "BackoffLimitExceeded"


def test_the_environment_comes_from_config_maps_and_secrets(
    tmp_path: Path,
) -> None:
    extra = {"EXTRA": "from the test"}
    tokens: list[tuple[str, str]] = []

    def token_for(namespace: str, account: str) -> str:
        tokens.append((namespace, account))
        return "runner-token"

    with KubeApiServer(
        kubelet=KubeletConfig(workdir=tmp_path, env=extra, token_for=token_for)
    ) as api:
        api.add_node("node-0")
        api.add_namespace("chaosbot")
        api.add_object(
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "chaosbot-config", "namespace": "chaosbot"},
                "data": {"CHAOSBOT_ALLOWED_NAMESPACES": "payments"},
            },
        )
        api.add_secret("chaosbot", "chaosbot-slack", data={"SLACK_BOT_TOKEN": "xoxb-1"})
        out = tmp_path / "env"
        code = "import json, os, pathlib; pathlib.Path(%r).write_text(json.dumps(dict(os.environ)))"
        body = _job(
            "env",
            _python(code % str(out)),
            pod={"serviceAccountName": "chaosbot-runner"},
        )
        body["spec"]["template"]["spec"]["containers"][0].update(
            envFrom=[
                {"configMapRef": {"name": "chaosbot-config"}},
                {"secretRef": {"name": "chaosbot-slack"}},
                {"secretRef": {"name": "chaosbot-database", "optional": True}},
            ],
            env=[{"name": "RUN", "value": "r-1"}],
        )
        api.add_object("jobs", {**body, "metadata": {**body["metadata"], "namespace": "chaosbot"}})
        _until(lambda: _condition(api.get("jobs", "chaosbot", "env"), "Complete"))
        import json

        env = json.loads(out.read_text())
        assert env["CHAOSBOT_ALLOWED_NAMESPACES"] == "payments"
        assert env["SLACK_BOT_TOKEN"] == "xoxb-1"  # base64-decoded
        assert env["RUN"] == "r-1" and env["EXTRA"] == "from the test"
        assert tokens == [("chaosbot", "chaosbot-runner")]
        assert "token: runner-token" in Path(env["KUBECONFIG"]).read_text()


def test_a_missing_config_map_keeps_the_pod_pending(
    jobs_api: KubeApiServer, batch: client.BatchV1Api
) -> None:
    body = _job("unconfigured", _python("pass"))
    body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "chaosbot-config"}}
    ]
    batch.create_namespaced_job("chaosbot", body)
    (pod,) = _pods(jobs_api, "unconfigured")
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": 'configmap "chaosbot-config" not found',
    }
    job = jobs_api.get("jobs", "chaosbot", "unconfigured")
    assert job is not None and job["status"]["active"] == 1 and job["status"]["ready"] == 0


def test_a_second_job_of_the_same_name_is_a_conflict(batch: client.BatchV1Api) -> None:
    batch.create_namespaced_job("chaosbot", _job("once", _python("pass")))
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job("chaosbot", _job("once", _python("pass")))
    assert caught.value.status == 409


def test_stop_kills_every_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(600)"
    )
    with KubeApiServer(kubelet=KubeletConfig(workdir=tmp_path)) as api:
        api.add_node("node-0")
        body = _job("forever", _python(code % str(pid_file)))
        api.add_object("jobs", body)
        pid = int(_until(lambda: pid_file.exists() and pid_file.read_text()))
    _until(lambda: not _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False
