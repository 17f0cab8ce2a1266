"""deploy/kubernetes: both overlays render with `kubectl kustomize`, every object is valid for the
Kubernetes release the project validates against, and the install has the properties the README
promises (one command, least privilege, hardened pods, the migration before the rollout)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot import __version__
from bot.cli import _parser
from bot.config import load_settings
from bot.selectors import label_selector_requirements, labels_match
from bot.testing.kube.validation import latest_kube_version
from bot.web import make_wsgi_app
from tests.deploy.manifests import (
    IMAGE,
    KUSTOMIZE,
    OVERLAYS,
    ROOT,
    Obj,
    bot_container,
    containers,
    env_value,
    find,
    pod_specs,
    pod_templates,
    render,
)

NAMESPACE = "chaosbot"
ALLOWLISTS = {"quickstart": ["staging"], "production": ["payments", "orders"]}
BOT_LABELS = {"app.kubernetes.io/name": "chaosbot", "app.kubernetes.io/component": "bot"}
RUN_LABELS = {"app.kubernetes.io/name": "chaosbot", "app.kubernetes.io/component": "run"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    return {overlay: render(KUSTOMIZE / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _config(objects: list[Obj]) -> dict[str, str]:
    return dict(find(objects, "ConfigMap", "chaosbot-config")["data"])


def _selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector selects these labels (a null one selects nothing)."""
    requirements = label_selector_requirements(selector)
    return requirements is not None and labels_match(requirements, labels)


def _argv(container: Obj) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


# --- validity -------------------------------------------------------------------------------


def test_every_rendered_object_is_valid_for_the_validated_kubernetes_release(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    version = latest_kube_version()
    objects = rendered[overlay]
    assert len(objects) >= 8
    for obj in objects:
        # Raises on any unknown field, wrong type or missing required field.
        kubernetes_validate.validate(obj, desired_version=version, strict=True)


def test_the_strict_validation_refuses_a_misspelt_field(rendered: dict[str, list[Obj]]) -> None:
    """The check above can fail: one typo in a security setting is caught."""
    deployment = find(rendered["production"], "Deployment", "chaosbot")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    context = broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    context["readOnlyRootFileSystem"] = context.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, desired_version=latest_kube_version(), strict=True)


def test_each_overlay_lists_its_rbac_yaml_and_the_pods_service_accounts_are_in_it(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    directory = KUSTOMIZE / "overlays" / overlay
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert "rbac.yaml" in kustomization["resources"]
    rbac = [doc for doc in yaml.safe_load_all((directory / "rbac.yaml").read_text()) if doc]
    accounts = {d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount"}
    used = {spec.get("serviceAccountName") for _, spec in pod_specs(rendered[overlay])}
    assert used == ({"chaosbot"} if overlay == "quickstart" else {"chaosbot", "chaosbot-runner"})
    assert used <= accounts
    assert all(
        d["metadata"]["namespace"] == NAMESPACE for d in rbac if d["kind"] == "ServiceAccount"
    )
    for binding in (d for d in rbac if d["kind"] == "RoleBinding"):
        for subject in binding["subjects"]:
            assert (subject["namespace"], subject["name"]) in {(NAMESPACE, a) for a in accounts}


def test_everything_is_in_the_chaosbot_namespace_but_the_roles_in_the_allowed_ones(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    namespace = find(objects, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "chaosbot"
        if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            continue
        where = obj["metadata"].get("namespace")
        if obj["kind"] in ("Role", "RoleBinding"):
            assert where in [NAMESPACE, *ALLOWLISTS[overlay]], obj["metadata"]
        else:
            assert where == NAMESPACE, obj["metadata"]


def test_no_permission_is_a_wildcard_and_none_is_cluster_wide_on_secrets(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """Whatever `chaosbot rbac` writes into rbac.yaml keeps to least privilege."""
    roles = [o for o in rendered[overlay] if o["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role.get("rules") or []:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], rule)
            if role["kind"] == "ClusterRole":
                assert "secrets" not in rule.get("resources", []), role["metadata"]["name"]


# --- settings and secrets -------------------------------------------------------------------


def test_no_secret_is_shipped_and_only_the_documented_ones_are_referenced(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    assert [o for o in objects if o["kind"] == "Secret"] == []
    referenced = set()
    for _, spec in pod_specs(objects):
        for container in containers(spec):
            for source in container.get("envFrom") or []:
                if "secretRef" in source:
                    referenced.add(source["secretRef"]["name"])
                    assert not source["secretRef"].get("optional")
                else:
                    assert source["configMapRef"]["name"] == "chaosbot-config"
            assert not [e for e in container.get("env") or [] if "valueFrom" in e]
        assert not [v for v in spec.get("volumes") or [] if "secret" in v]
    expected = {"chaosbot-slack"} | ({"chaosbot-database"} if overlay == "production" else set())
    assert referenced == expected
    sources = [s for s in bot_container(objects)["envFrom"]]
    assert {"secretRef": {"name": "chaosbot-slack"}} in sources
    # The settings the README's table documents; no credential among them.
    config = _config(objects)
    assert config["CHAOSBOT_NAMESPACE"] == NAMESPACE
    assert config["CHAOSBOT_LOG_FORMAT"] == "json"
    assert config["CHAOSBOT_ALLOWED_NAMESPACES"] == ",".join(ALLOWLISTS[overlay])
    assert not [k for k in config if k.startswith("SLACK_") or "TOKEN" in k or "SECRET" in k]


def test_the_bot_containers_environment_is_settings_chaosbot_accepts(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """What the container sees (the ConfigMap, the Secrets the README has you create, its own
    env) read by the real settings loader."""
    objects = rendered[overlay]
    secrets = {
        "chaosbot-slack": {
            "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
            "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        },
        "chaosbot-database": {
            "CHAOSBOT_DATABASE_URL": "postgresql://chaosbot:pw@postgres.example.internal/chaosbot"
        },
    }
    bot = bot_container(objects)
    environment: dict[str, str] = {}
    for source in bot["envFrom"]:
        if "configMapRef" in source:
            environment.update(_config(objects))
        else:
            environment.update(secrets[source["secretRef"]["name"]])
    environment.update({e["name"]: e["value"] for e in bot["env"]})

    settings = load_settings(environment)

    settings.require_slack()
    assert settings.http_port == bot["ports"][0]["containerPort"]
    assert settings.allowed_namespaces == frozenset(ALLOWLISTS[overlay])
    assert settings.kubeconfig is None  # the in-cluster configuration
    backend = "sqlite" if overlay == "quickstart" else "postgresql+psycopg"
    assert settings.database_url.startswith(f"{backend}:")


def test_the_slack_secret_reaches_only_the_bot(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["production"]
    for name, spec in pod_specs(objects):
        for container in containers(spec):
            refs = [
                s["secretRef"]["name"] for s in container.get("envFrom") or [] if "secretRef" in s
            ]
            is_bot = name == "Deployment/chaosbot" and container["name"] == "chaosbot"
            assert ("chaosbot-slack" in refs) == is_bot, (name, container["name"])
            # The cleanup opens no database, so it is not handed its URL.
            if name == "CronJob/chaosbot-cleanup":
                assert refs == []


def test_quickstart_runs_locally_on_sqlite_on_a_volume_with_one_replica_at_a_time(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["quickstart"]
    config = _config(objects)
    assert config["CHAOSBOT_EXECUTOR"] == "local"
    assert config["CHAOSBOT_DATABASE_URL"] == "sqlite:////var/lib/chaosbot/chaosbot.db"
    deployment = find(objects, "Deployment", "chaosbot")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {"type": "Recreate"}
    spec = deployment["template"]["spec"]
    (data,) = [v for v in spec["volumes"] if v["name"] == "data"]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "chaosbot-data"}}
    claim = find(objects, "PersistentVolumeClaim", "chaosbot-data")["spec"]
    assert claim["accessModes"] == ["ReadWriteOnce"]
    for container in containers(spec):
        assert {"name": "data", "mountPath": "/var/lib/chaosbot"} in container["volumeMounts"]
    (init,) = spec["initContainers"]
    assert _argv(init) == ["chaosbot", "migrate"]
    assert [
        o["kind"] for o in objects if o["kind"] in ("Job", "CronJob", "PodDisruptionBudget")
    ] == []


def test_production_runs_jobs_on_postgresql_with_two_replicas_that_wait_for_the_migration(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["production"]
    config = _config(objects)
    assert config["CHAOSBOT_EXECUTOR"] == "kubernetes"
    assert config["CHAOSBOT_RUNS_SERVICE_ACCOUNT"] == "chaosbot-runner"
    assert "CHAOSBOT_DATABASE_URL" not in config  # it is in the Secret chaosbot-database
    deployment = find(objects, "Deployment", "chaosbot")["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert deployment["progressDeadlineSeconds"] > 600  # the init container may wait 600 s
    spec = deployment["template"]["spec"]
    (init,) = spec["initContainers"]
    assert _argv(init) == ["chaosbot", "migrate", "--wait", "600"]
    assert {"secretRef": {"name": "chaosbot-database"}} in init["envFrom"]
    assert {"secretRef": {"name": "chaosbot-database"}} in bot_container(objects)["envFrom"]
    assert not [v for v in spec["volumes"] if "persistentVolumeClaim" in v]

    job = find(objects, "Job", "chaosbot-migrate")["spec"]
    (migrate,) = job["template"]["spec"]["containers"]
    assert _argv(migrate) == ["chaosbot", "migrate"]
    assert {"secretRef": {"name": "chaosbot-database"}} in migrate["envFrom"]
    assert 0 < job["ttlSecondsAfterFinished"] <= 3600
    assert 0 <= job["backoffLimit"] <= 3
    assert job["template"]["spec"]["restartPolicy"] == "Never"

    pdb = find(objects, "PodDisruptionBudget", "chaosbot")["spec"]
    assert pdb["minAvailable"] == 1
    assert _selects(pdb["selector"], BOT_LABELS)
    assert pdb["minAvailable"] < deployment["replicas"]


def test_the_commands_in_the_manifests_are_chaosbots_own(rendered: dict[str, list[Obj]]) -> None:
    """Each container's command parses with the real CLI, with the meaning the manifests need."""
    parser = _parser()
    seen = {}
    for overlay in OVERLAYS:
        for name, spec in pod_specs(rendered[overlay]):
            for container in containers(spec):
                argv = _argv(container)
                assert argv[0] == "chaosbot", (name, argv)
                seen[(overlay, name, container["name"])] = parser.parse_args(argv[1:])
    assert seen[("production", "Deployment/chaosbot", "schema")].wait == 600
    assert seen[("quickstart", "Deployment/chaosbot", "schema")].wait is None
    cleanup = seen[("production", "CronJob/chaosbot-cleanup", "cleanup")]
    # Expired marks only, in CHAOSBOT_ALLOWED_NAMESPACES (no --namespace), for real.
    assert cleanup.expired_only and not cleanup.dry_run
    assert cleanup.namespaces is None and cleanup.run is None and cleanup.context is None


def test_the_cleanup_runs_every_five_minutes_as_the_runner_one_at_a_time(
    rendered: dict[str, list[Obj]],
) -> None:
    cronjob = find(rendered["production"], "CronJob", "chaosbot-cleanup")["spec"]
    assert cronjob["schedule"] == "*/5 * * * *"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    job = cronjob["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] < 5 * 60
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "chaosbot-runner"
    assert pod["restartPolicy"] == "Never"


# --- pods -------------------------------------------------------------------------------------


def _dockerfile_user() -> int:
    match = re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match
    return int(match[1])


def test_every_pod_and_container_is_locked_down(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    uid = _dockerfile_user()
    specs = dict(pod_specs(rendered[overlay]))
    assert len(specs) == (1 if overlay == "quickstart" else 3)
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        # The volume types the "restricted" Pod Security Standard allows, of which only these.
        for volume in spec.get("volumes") or []:
            assert set(volume) - {"name"} <= {"emptyDir", "persistentVolumeClaim"}, name
        for container in containers(spec):
            where = (name, container["name"])
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == uid, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert not context.get("privileged"), where


def _writable_paths(spec: Obj, container: Obj) -> set[str]:
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    writable = set()
    for mount in container.get("volumeMounts") or []:
        source = volumes[mount["name"]]
        if not mount.get("readOnly") and (
            "emptyDir" in source or "persistentVolumeClaim" in source
        ):
            writable.add(mount["mountPath"])
    return writable


def test_every_container_can_write_its_tmp_and_its_home_and_nothing_else(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for name, spec in pod_specs(rendered[overlay]):
        for container in containers(spec):
            writable = _writable_paths(spec, container)
            home = env_value(container, "HOME")
            assert writable == {"/tmp", home}, (name, container["name"], writable)
            assert home == "/var/lib/chaosbot"  # the image's WORKDIR and its user's home


def test_resources_are_requested_and_limited_in_production(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for name, spec in pod_specs(rendered[overlay]):
        for container in containers(spec):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), (name, container["name"])
            assert "memory" in resources["limits"], (name, container["name"])
            if overlay == "production":
                assert "cpu" in resources["limits"], (name, container["name"])


def test_the_service_account_token_is_mounted_only_where_the_api_is_called(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    # Each pod says so itself, whatever its ServiceAccount's default.
    assert all(
        isinstance(spec.get("automountServiceAccountToken"), bool) for _, spec in pod_specs(objects)
    )
    mounted = {name for name, spec in pod_specs(objects) if spec["automountServiceAccountToken"]}
    expected = {"Deployment/chaosbot"} | (
        {"CronJob/chaosbot-cleanup"} if overlay == "production" else set()
    )
    assert mounted == expected
    if overlay == "production":
        migrate = find(objects, "Job", "chaosbot-migrate")["spec"]["template"]["spec"]
        assert migrate["automountServiceAccountToken"] is False


def test_the_probes_ask_the_paths_the_bot_serves(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    bot = bot_container(rendered[overlay])
    (port,) = bot["ports"]
    assert port == {"name": "http", "containerPort": 3000, "protocol": "TCP"}
    assert bot["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert bot["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert bot["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}

    # And bot/web.py answers them: live whatever the database says, ready only when migrated.
    app = make_wsgi_app(bolt_app=None, readiness=lambda: "the database is not migrated")
    assert _status(app, "/healthz") == "200 OK"
    assert _status(app, "/readyz").startswith("503")
    assert _status(make_wsgi_app(bolt_app=None, readiness=lambda: None), "/readyz") == "200 OK"


def _status(app: Any, path: str) -> str:
    statuses = []
    body = app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda s, h: statuses.append(s))
    b"".join(body)
    return str(statuses[0])


def test_the_service_sends_port_80_to_the_bots_http_port(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    service = find(rendered[overlay], "Service", "chaosbot")
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, "http")
    assert service["spec"]["selector"] == BOT_LABELS
    template = find(rendered[overlay], "Deployment", "chaosbot")["spec"]["template"]
    assert BOT_LABELS.items() <= template["metadata"]["labels"].items()
    annotations = service["metadata"].get("annotations") or {}
    if overlay == "production":
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "3000",
            "prometheus.io/path": "/metrics",
        }


# --- network --------------------------------------------------------------------------------


def _ingress(policies: Iterable[Obj], labels: dict[str, str]) -> set[object] | None:
    """The ports a pod with these labels in chaosbot's namespace may be reached on ("*": any);
    None when no policy isolates it (everything may reach it)."""
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == NAMESPACE
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], labels)
    ]
    if not selecting:
        return None
    ports: set[object] = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports |= {p["port"] for p in rule.get("ports") or [{"port": "*"}]}
    return ports


def test_production_pods_take_connections_on_the_bots_http_port_only(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["production"]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert _ingress(policies, BOT_LABELS) == {3000}
    # The run Jobs the bot starts, and the migration and cleanup pods: nothing reaches them.
    assert _ingress(policies, RUN_LABELS) == set()
    assert _ingress(policies, {"app.kubernetes.io/component": "run"}) == set()
    for name, template in pod_templates(objects):
        if name != "Deployment/chaosbot":
            assert _ingress(policies, template["metadata"]["labels"]) == set(), name
    # The check itself: without the policies, the run pods would be open.
    assert _ingress([], RUN_LABELS) is None


# --- the image ------------------------------------------------------------------------------


def _images(objects: list[Obj]) -> set[str]:
    return {c["image"] for _, spec in pod_specs(objects) for c in containers(spec)}


def test_every_container_runs_the_bots_image_and_the_runs_get_the_same(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    assert _images(objects) == {f"{IMAGE}:{__version__}"}
    assert env_value(bot_container(objects), "CHAOSBOT_WORKER_IMAGE") == f"{IMAGE}:{__version__}"


def test_setting_the_image_in_an_overlay_changes_the_workers_image_with_it(
    tmp_path: Path, overlay: str
) -> None:
    """What `kustomize edit set image ghcr.io/chaosbot/chaosbot=…` writes into the overlay."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUSTOMIZE, copy)
    path = copy / "overlays" / overlay / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text())
    (entry,) = [i for i in kustomization["images"] if i["name"] == IMAGE]
    entry.update(newName="registry.example.com/platform/chaosbot", newTag="2.3.4-rc1")
    path.write_text(yaml.safe_dump(kustomization))

    objects = render(copy / "overlays" / overlay)

    image = "registry.example.com/platform/chaosbot:2.3.4-rc1"
    assert _images(objects) == {image}
    assert env_value(bot_container(objects), "CHAOSBOT_WORKER_IMAGE") == image
