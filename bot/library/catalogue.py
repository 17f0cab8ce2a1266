"""The catalogue: every experiments/*.yaml template, with its chaosbot metadata checked and typed.

A template is a Chaos Toolkit experiment that is valid as it stands. Its catalogue entry is the
`extensions` item named `chaosbot` (id, title, category, tests, watch, risk, parameters,
prerequisites, creates, permissions: the Kubernetes API calls its faults make, as RBAC rules,
see bot/library/permissions.py); each parameter is also a `configuration` key holding its default, so
`chaos run --var NAME=VALUE` and chaosbot's rendering set the same thing.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.config import parse_experiments
from bot.errors import ChaosbotError
from bot.library.parameters import PARAMETER_TYPES, Parameter, parse_parameters
from bot.library.permissions import Rule, parse_permissions
from bot.library.reach import every_pod_reason
from bot.resources import experiments_dir

__all__ = [
    "BASE_CONFIGURATION",
    "CATEGORIES",
    "KNOWN_KINDS",
    "PARAMETER_TYPES",
    "PROBE_FUNC",
    "PROBE_MODULE",
    "RISKS",
    "Catalogue",
    "ExperimentTemplate",
    "Parameter",
    "TemplateInvalid",
    "UnknownExperiment",
    "enabled_experiments",
    "load_catalogue",
    "load_template",
]

RISKS = ("low", "medium", "high")
CATEGORIES = (
    "pods",
    "workloads",
    "nodes",
    "zones",
    "resources",
    "network",
    "dns",
    "storage",
    "time",
    "certificates",
    "disaster-recovery",
)
# What a fault may create or change, as `resource.group` (what the leftover check lists).
KNOWN_KINDS = (
    "nodes",
    "secrets",
    "configmaps",
    "deployments.apps",
    "statefulsets.apps",
    "networkpolicies.networking.k8s.io",
    "podchaos.chaos-mesh.org",
    "networkchaos.chaos-mesh.org",
    "stresschaos.chaos-mesh.org",
    "iochaos.chaos-mesh.org",
    "dnschaos.chaos-mesh.org",
    "timechaos.chaos-mesh.org",
)
# The configuration every template declares (rendering fills them in for a service).
BASE_CONFIGURATION = (
    "namespace",
    "label_selector",
    "run_id",
    "hold_seconds",
    "probe_url",
    "probe_timeout",
    "probe_status",
)
HOLD_MODULE = "bot.faults.hold"
OUTCOME_MODULE = "bot.faults.outcome"
# Every probe request goes through chaosbot's probe client, never chaostoolkit's http provider.
PROBE_MODULE = "bot.probes.http"
PROBE_FUNC = "probe_http"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class TemplateInvalid(ChaosbotError):
    """A template file whose experiment or chaosbot metadata is missing or wrong."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class UnknownExperiment(ChaosbotError):
    """No template has that id (or it is not enabled on this installation)."""

    def __init__(self, experiment: str, known: list[str], *, disabled: bool = False) -> None:
        self.experiment = experiment
        if disabled:
            message = (
                f"experiment {experiment!r} is not enabled here (CHAOSBOT_EXPERIMENTS: "
                f"{', '.join(known)})"
            )
        else:
            message = (
                f"there is no experiment {experiment!r} in the library (known: {', '.join(known)})"
            )
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class ExperimentTemplate:
    """One experiment of the library: catalogue metadata plus the Chaos Toolkit document."""

    id: str
    title: str
    category: str
    tests: str
    watch: str
    risk: str
    parameters: Mapping[str, Parameter]
    prerequisites: tuple[str, ...]
    creates: tuple[str, ...]
    # The Kubernetes API calls its faults make (RBAC rules; bot/library/permissions.py).
    permissions: tuple[Rule, ...]
    path: Path
    document: Mapping[str, Any]

    @property
    def every_pod(self) -> str | None:
        """Why it disrupts every pod of a service (the blast-radius check counts them all), or
        None when its percent or count parameter limits how many."""
        return every_pod_reason(self.category, self.parameters)


class Catalogue:
    """The loaded library, by id; iterates in category then id order."""

    def __init__(
        self, templates: list[ExperimentTemplate], *, disabled: Collection[str] = ()
    ) -> None:
        self.templates: dict[str, ExperimentTemplate] = {}
        # Library experiments this installation does not offer or run (CHAOSBOT_EXPERIMENTS).
        self.disabled = frozenset(disabled)
        for template in templates:
            if template.id in self.templates:
                first = self.templates[template.id].path
                raise TemplateInvalid(template.path, [f"id {template.id} is also used by {first}"])
            self.templates[template.id] = template

    def get(self, experiment: str) -> ExperimentTemplate:
        """The template with that id, or UnknownExperiment (also for a disabled one)."""
        try:
            return self.templates[experiment]
        except KeyError:
            known = sorted(self.templates)
            disabled = experiment in self.disabled
            raise UnknownExperiment(experiment, known, disabled=disabled) from None

    def enabled(self, experiments: Collection[str] | None) -> Catalogue:
        """Only these experiments (None: all); UnknownExperiment names one the library lacks."""
        if experiments is None:
            return self
        for experiment in sorted(experiments):
            self.get(experiment)
        kept = [t for t in self.templates.values() if t.id in experiments]
        dropped = set(self.templates) - set(experiments)
        return Catalogue(kept, disabled=self.disabled | dropped)

    @property
    def touches_nodes(self) -> bool:
        """Whether an experiment changes nodes (the sweep and leftover check then list them)."""
        return any(
            "nodes" in t.creates or any(r.cluster_scoped for r in t.permissions)
            for t in self.templates.values()
        )

    def __iter__(self) -> Iterator[ExperimentTemplate]:
        order = {category: index for index, category in enumerate(CATEGORIES)}
        return iter(sorted(self.templates.values(), key=lambda t: (order[t.category], t.id)))

    def __len__(self) -> int:
        return len(self.templates)


def load_catalogue(directory: Path | None = None, *, everything: bool = False) -> Catalogue:
    """The enabled templates in experiments/ (or `directory`); TemplateInvalid on a bad one.

    Enabled: those CHAOSBOT_EXPERIMENTS names (every one when it is unset or `everything`).
    It is read here, where every surface and the worker (which inherits it through
    bot.config.settings_env) load the library, so a disabled experiment is neither offered
    nor run anywhere; bot.config validates it at start-up.
    """
    catalogue = _library(directory or experiments_dir())
    return catalogue if everything else catalogue.enabled(enabled_experiments())


# The parsed library, by folder: parsed once per process, and again only when a file in the
# folder is added, removed or changed (a test writing templates; a deploy replacing them). The
# templates are shared by every caller: frozen, and `document` is never changed in place
# (rendering works on a deep copy).
_LIBRARIES: dict[Path, tuple[tuple[tuple[str, int, int], ...], Catalogue]] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(folder: Path) -> Catalogue:
    paths = sorted(folder.glob("*.yaml"))
    stamp = tuple((p.name, s.st_mtime_ns, s.st_size) for p in paths for s in (p.stat(),))
    with _LIBRARIES_LOCK:
        known = _LIBRARIES.get(folder)
        if known is not None and known[0] == stamp:
            return known[1]
    catalogue = Catalogue([load_template(path) for path in paths])
    with _LIBRARIES_LOCK:
        _LIBRARIES[folder] = (stamp, catalogue)
    return catalogue


def enabled_experiments(environ: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """The experiment ids CHAOSBOT_EXPERIMENTS enables (comma list), or None for all."""
    return parse_experiments(os.environ if environ is None else environ)


def load_template(path: Path) -> ExperimentTemplate:
    """One template file, parsed and checked; TemplateInvalid lists every problem found."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TemplateInvalid(path, [f"cannot be read as YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise TemplateInvalid(path, ["is not a Chaos Toolkit experiment (a YAML mapping)"])
    problems: list[str] = []
    meta = _chaosbot_extension(document, problems)
    configuration = document.get("configuration")
    if not isinstance(configuration, dict):
        problems.append("configuration: is missing")
        configuration = {}
    for key in BASE_CONFIGURATION:
        if key not in configuration:
            problems.append(f"configuration.{key}: is missing")
    if configuration.get("run_id", "manual") != "manual":
        problems.append('configuration.run_id: must default to "manual"')
    _check_document(document, problems)
    parameters = parse_parameters(
        meta.get("parameters"), configuration, reserved=BASE_CONFIGURATION, problems=problems
    )
    ident = meta.get("id")
    if not isinstance(ident, str) or not _ID.match(ident) or ident != path.stem:
        problems.append(f"chaosbot.id: must be the file name without .yaml ({path.stem})")
    texts = {key: meta.get(key) for key in ("title", "tests", "watch")}
    for key, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            problems.append(f"chaosbot.{key}: must be a non-empty text")
    category, risk = meta.get("category"), meta.get("risk")
    if category not in CATEGORIES:
        problems.append(f"chaosbot.category: must be one of {', '.join(CATEGORIES)}")
    if risk not in RISKS:
        problems.append(f"chaosbot.risk: must be one of {', '.join(RISKS)}")
    prerequisites = _texts(meta.get("prerequisites"), "chaosbot.prerequisites", problems)
    creates = _texts(meta.get("creates"), "chaosbot.creates", problems)
    for kind in creates:
        if kind not in KNOWN_KINDS:
            problems.append(f"chaosbot.creates: {kind} is not one of {', '.join(KNOWN_KINDS)}")
    permissions = parse_permissions(meta.get("permissions"), problems)
    if problems:
        raise TemplateInvalid(path, problems)
    return ExperimentTemplate(
        id=str(ident),
        title=str(texts["title"]).strip(),
        category=str(category),
        tests=str(texts["tests"]).strip(),
        watch=str(texts["watch"]).strip(),
        risk=str(risk),
        parameters=parameters,
        prerequisites=prerequisites,
        creates=creates,
        permissions=permissions,
        path=path,
        document=document,
    )


def _chaosbot_extension(document: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    extensions = document.get("extensions")
    entries = extensions if isinstance(extensions, list) else []
    found = [e for e in entries if isinstance(e, dict) and e.get("name") == "chaosbot"]
    if len(found) != 1:
        problems.append(
            "extensions: needs exactly one entry named chaosbot (the catalogue metadata)"
        )
        return {}
    return found[0]


def _check_document(document: dict[str, Any], problems: list[str]) -> None:
    """The experiment parts the engine relies on: a hold, an outcome control, rollbacks."""
    hypothesis = document.get("steady-state-hypothesis")
    if not isinstance(hypothesis, dict):
        problems.append("steady-state-hypothesis: is missing")
    probes = hypothesis.get("probes") if isinstance(hypothesis, dict) else None
    if not isinstance(probes, list) or not probes:
        problems.append("steady-state-hypothesis: needs a probe")
    elif any(_module(p) != PROBE_MODULE for p in probes):
        problems.append(f"steady-state-hypothesis: every probe must use {PROBE_MODULE}")
    for part in ("method", "rollbacks"):
        activities = document.get(part)
        for activity in activities if isinstance(activities, list) else []:
            provider = activity.get("provider") if isinstance(activity, dict) else None
            if isinstance(provider, dict) and provider.get("type") == "http":
                problems.append(
                    f"{part}: an http provider would bypass {PROBE_MODULE}, which probes use"
                )
    method = document.get("method")
    method = method if isinstance(method, list) else []
    if not any(_module(a) == HOLD_MODULE for a in method):
        problems.append(f"method: needs the hold step ({HOLD_MODULE}.hold)")
    if not any(_module(a) != HOLD_MODULE and a.get("type") == "action" for a in method):
        problems.append("method: needs at least one fault action")
    rollbacks = document.get("rollbacks")
    if not isinstance(rollbacks, list) or not rollbacks:
        problems.append("rollbacks: must undo the method (an experiment without them is refused)")
    controls = document.get("controls")
    if not any(_module(c) == OUTCOME_MODULE for c in controls or [] if isinstance(c, dict)):
        problems.append(f"controls: needs the {OUTCOME_MODULE} control")


def _module(activity: Any) -> str | None:
    provider = activity.get("provider") if isinstance(activity, dict) else None
    return provider.get("module") if isinstance(provider, dict) else None


def _texts(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        problems.append(f"{where}: must be a list of texts (possibly empty)")
        return ()
    return tuple(raw)
