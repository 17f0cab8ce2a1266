"""`chaosbot experiments list|show|validate|render`: the library from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from bot.cli.options import add_hold_seconds, add_values, parameter_overrides
from bot.library.catalogue import (
    Catalogue,
    ExperimentTemplate,
    TemplateInvalid,
    load_catalogue,
    load_template,
)
from bot.library.reach import SHARE_PARAMETERS
from bot.resources import experiments_dir

__all__ = ["add_parser"]

EXIT_INVALID = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `experiments` command and its subcommands to the chaosbot parser."""
    experiments = subparsers.add_parser(
        "experiments",
        help="the experiment library: list, show, validate, render",
        description="The library of Chaos Toolkit experiment templates in experiments/.",
    )
    sub = experiments.add_subparsers(title="subcommands", required=True, metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="every experiment: id, category, risk, title")
    listing.set_defaults(command=_list)
    show = sub.add_parser("show", help="one experiment's catalogue entry and parameters")
    show.add_argument("experiment", metavar="ID")
    show.set_defaults(command=_show)
    validate = sub.add_parser(
        "validate",
        help="check templates: chaosbot metadata and Chaos Toolkit's own validation",
        description="Validate the given experiment files, or the whole library without FILE. "
        "Exit code 1 when any is invalid.",
    )
    validate.add_argument("files", nargs="*", metavar="FILE", type=Path)
    validate.set_defaults(command=_validate)
    rendering = sub.add_parser(
        "render",
        help="an experiment rendered for a registered service, ready for `chaos run`",
        description="Render experiment ID for service NAME (read from the database): its "
        "namespace, selector, probes, cluster context and suite parameters, then --set values.",
    )
    rendering.add_argument("experiment", metavar="ID")
    rendering.add_argument("--service", required=True, metavar="NAME")
    add_values(rendering, "a parameter value (repeatable)")
    rendering.add_argument("--run-id", default="manual", help="the run label (default: manual)")
    add_hold_seconds(rendering, 60.0)
    rendering.add_argument(
        "-o", "--output", type=Path, help="write to FILE (.yaml/.yml: YAML, else JSON)"
    )
    rendering.set_defaults(command=_render)


def _list(_args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    width = max(len(t.id) for t in catalogue)
    for template in catalogue:
        print(
            f"{template.id:<{width}}  {template.category:<17}  {template.risk:<6}  {template.title}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    template = load_catalogue().get(args.experiment)
    print(f"{template.id}: {template.title}")
    print(f"category: {template.category}    risk: {template.risk}    file: {template.path}")
    print(f"tests: {template.tests}")
    print(f"watch: {template.watch}")
    print("parameters:" if template.parameters else "parameters: none")
    for name, parameter in template.parameters.items():
        bounds = parameter.bounds.replace(" (", " ").rstrip(")")
        choices = f" one of {', '.join(parameter.choices)}" if parameter.choices else ""
        print(
            f"  {name} ({parameter.type}{bounds}{choices}, default "
            f"{json.dumps(parameter.default)}): {parameter.description}"
        )
    shares = " or ".join(n for n in SHARE_PARAMETERS if n in template.parameters)
    print(
        f"blast radius: every pod; {template.every_pod}"
        if template.every_pod
        else f"blast radius: the pods its {shares} parameter says"
    )
    print("prerequisites: " + ("; ".join(template.prerequisites) or "none"))
    print("creates or changes: " + (", ".join(template.creates) or "nothing"))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    files: list[Path] = args.files or sorted(experiments_dir().glob("*.yaml"))
    valid: list[ExperimentTemplate] = []
    failures = 0
    for path in files:
        try:
            template = load_template(path)
            ensure_experiment_is_valid(dict(template.document))
        except TemplateInvalid as error:
            failures += 1
            print(f"invalid {error}")
            continue
        except ChaosException as error:
            failures += 1
            print(f"invalid {path}: {error}")
            continue
        valid.append(template)
        print(f"ok {path}")
    if not args.files:
        try:
            Catalogue(valid)
        except TemplateInvalid as error:
            failures += 1
            print(f"invalid {error}")
    return EXIT_INVALID if failures else 0


def _render(args: argparse.Namespace) -> int:
    from bot.catalog.service import find_service
    from bot.config import load_settings
    from bot.db.engine import Database
    from bot.db.migrate import ensure_migrated
    from bot.runs.flows import render_for

    template = load_catalogue().get(args.experiment)
    overrides = parameter_overrides(template, args.values)
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        ensure_migrated(db)
        with db.session() as session:
            service = find_service(session=session, name=args.service)
            name = service.name
            _, document = render_for(
                service,
                template,
                overrides=overrides,
                run_id=args.run_id,
                hold_seconds=args.hold_seconds,
                default_context=settings.kube_context,
            )
    finally:
        db.dispose()
    if args.output is None:
        print(json.dumps(document, indent=2))
        return 0
    if args.output.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2) + "\n"
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {template.id} for {name} to {args.output}")
    return 0
