"""The bot with CHAOSBOT_EXECUTOR=kubernetes: it starts each run as a Job in its own namespace
(bot/serve.py chooses the launcher), and an abort of it goes through the run's row."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runs.states import RunStatus
from bot.runs.supervisor import abort_run
from bot.testing.kube.api import KubeApiServer
from tests.fixtures.bot import RunningBot, seed_payments
from tests.fixtures.engine import NOW, Engine
from tests.fixtures.services import register_checkout

AS_JOBS = {"executor": "kubernetes", "worker_image": "chaosbot:1.0", "namespace": "chaosbot"}


@pytest.mark.parametrize("settings_changes", [AS_JOBS], ids=["kubernetes"])
def test_the_bot_starts_a_run_as_a_job_in_its_namespace(
    running_bot: RunningBot, kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    seed_payments(kube_api)
    kube_api.add_namespace("chaosbot")
    register_checkout(running_bot.db, probe_url="http://127.0.0.1:9/health")
    engine = Engine(running_bot.db, kube_api, kubeconfig, "http://127.0.0.1:9/health", {})
    run_id, key = engine.create()

    running_bot.server.context.start_run(run_id)
    running_bot.server.context.start_run(run_id)  # a retried hand-out starts nothing more

    (job,) = kube_api.list("jobs", "chaosbot", label_selector=f"chaosbot.io/run-id={key}")
    assert job["metadata"]["name"] == f"chaosbot-run-{key}"
    assert job["metadata"]["labels"] == {
        "chaosbot.io/run-id": key,
        "app.kubernetes.io/name": "chaosbot",
        "app.kubernetes.io/component": "run",
    }
    assert job["metadata"]["annotations"]["chaosbot.io/run"] == str(run_id)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "chaosbot:1.0"
    assert container["command"] == ["chaosbot", "worker", str(run_id)]
    assert container["envFrom"] == [
        {"configMapRef": {"name": "chaosbot-config"}},
        {"secretRef": {"name": "chaosbot-slack"}},
        {"secretRef": {"name": "chaosbot-database", "optional": True}},
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    assert pod["serviceAccountName"] == "chaosbot-runner"

    # Nothing started it yet (this server runs no Jobs): an abort ends it, signalling nobody.
    result = abort_run(
        db=running_bot.db,
        ref=key,
        by="U0BOB",
        now=NOW,
        executor=running_bot.server.context.executor,
    )
    assert (result.status, result.signalled) == (RunStatus.ABORTED, False)
