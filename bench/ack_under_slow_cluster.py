"""How long Slack waits for an ack when the Kubernetes API answers slowly, and whether the
person's answer still comes after it.

    .venv/bin/python bench/ack_under_slow_cluster.py [--samples 12] [--latency 5] [--concurrency 4]

chaosbot runs in process against the Slack and Kubernetes API test servers and a SQLite file;
the Kubernetes test server delays every GET by --latency seconds. Each interaction that asks the
cluster inside its ack is sent --samples times (signed, as Slack sends them) and timed from the
client's side to its HTTP answer:

- the onboarding form (a new view each time): acked "checking the cluster", answered after by
  views.update of the modal;
- the game-day request form (a new view and a new slot each time): recorded with a pending
  preview, answered after by the approval message's update and a thread note;
- the workload picker (options for the onboarding form): answered empty; nothing follows.

Slash commands are acked before any of their work (bot/slack/commands.py), so none waits on the
cluster; `/chaos service checkout` is timed alongside as the control.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _setup import BENCH_USER, save_checkout

from bot.clock import FrozenClock
from bot.config import Secret, Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.serve import Server
from bot.slack.ids import CallbackId, GameDayBlock, OnboardBlock
from bot.testing.kube.api import KubeApiServer
from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.forms import onboarding_form, text
from bot.testing.slack.requests import SlackSimulator

SECRET = "bench-signing-secret-0123456789"
CHANNEL = "C0PAYMENTS"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FOLLOW_UP_TIMEOUT = 120.0  # each late lookup ends at the kube client's time-outs (and retries)


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _gameday_values(day: date) -> dict[str, dict[str, dict[str, Any]]]:
    def one(block: GameDayBlock, element: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {block.value: element}

    return {
        GameDayBlock.EXPERIMENTS.value: one(
            GameDayBlock.EXPERIMENTS,
            {"type": "multi_static_select", "selected_options": [{"value": "pod-kill"}]},
        ),
        GameDayBlock.DATE.value: one(
            GameDayBlock.DATE, {"type": "datepicker", "selected_date": day.isoformat()}
        ),
        GameDayBlock.TIME.value: one(
            GameDayBlock.TIME, {"type": "timepicker", "selected_time": "10:00"}
        ),
        GameDayBlock.DURATION.value: one(
            GameDayBlock.DURATION, {"type": "static_select", "selected_option": {"value": "15"}}
        ),
        GameDayBlock.HOLD.value: one(
            GameDayBlock.HOLD, {"type": "static_select", "selected_option": {"value": "1"}}
        ),
        GameDayBlock.NOTES.value: one(
            GameDayBlock.NOTES, {"type": "plain_text_input", "value": ""}
        ),
    }


def _weekdays(count: int) -> list[date]:
    days: list[date] = []
    day = START.date() + timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class _Bench:
    def __init__(self, simulator: SlackSimulator, slack: SlackApiServer) -> None:
        self.sim, self.slack = simulator, slack

    def _opened(self, command: str, callback: CallbackId, before: int) -> str:
        self.sim.slash_command("/chaos", command, user_id=BENCH_USER, channel_id=CHANNEL)
        calls = self.slack.wait_for(
            "views.open",
            count=before + 1,
            where=lambda c: c.body["view"]["callback_id"] == callback.value,
            timeout=30,
        )
        return str(calls[before].response["view"]["id"])

    def onboarding(self, index: int) -> tuple[float, Callable[[], bool] | None]:
        view_id = self._opened("onboard", CallbackId.ONBOARD, index)
        values = onboarding_form(
            {OnboardBlock.NAME: text(f"svc-{index}")}, owner_ids=(BENCH_USER,), channel_id=CHANNEL
        )
        started = time.perf_counter()
        response = self.sim.view_submission(
            CallbackId.ONBOARD.value, values=values, user_id=BENCH_USER, view_id=view_id
        )
        elapsed = time.perf_counter() - started
        assert response.status == 200, response.text

        def answered() -> bool:
            self.slack.wait_for(
                "views.update",
                where=lambda c: c.body["view_id"] == view_id,
                timeout=FOLLOW_UP_TIMEOUT,
            )
            return True

        return elapsed, answered

    def gameday(self, index: int, day: date) -> tuple[float, Callable[[], bool] | None]:
        view_id = self._opened("gameday checkout", CallbackId.REQUEST_GAMEDAY, index)
        started = time.perf_counter()
        response = self.sim.view_submission(
            CallbackId.REQUEST_GAMEDAY.value,
            values=_gameday_values(day),
            user_id=BENCH_USER,
            view_id=view_id,
        )
        elapsed = time.perf_counter() - started
        assert response.status == 200 and response.text == "", response.text

        def answered() -> bool:
            self.slack.wait_for(
                "chat.postMessage",
                count=index + 1,
                where=lambda c: "The cluster answered" in str(c.body.get("text")),
                timeout=FOLLOW_UP_TIMEOUT,
            )
            return True

        return elapsed, answered

    def workload_options(self, _index: int) -> tuple[float, Callable[[], bool] | None]:
        payload = {
            "type": "block_suggestion",
            "user": {"id": BENCH_USER},
            "team": {"id": self.slack.team_id},
            "api_app_id": "A0001",
            "action_id": OnboardBlock.WORKLOAD.value,
            "block_id": OnboardBlock.WORKLOAD.value,
            "value": "",
            "view": {
                "id": "VBENCH",
                "callback_id": CallbackId.ONBOARD.value,
                "state": {"values": onboarding_form()},
            },
        }
        started = time.perf_counter()
        response = self.sim.send_payload(payload)
        elapsed = time.perf_counter() - started
        assert response.status == 200, response.text
        return elapsed, None

    def service_command(self, _index: int) -> tuple[float, Callable[[], bool] | None]:
        started = time.perf_counter()
        response = self.sim.slash_command(
            "/chaos", "service checkout", user_id=BENCH_USER, channel_id=CHANNEL
        )
        elapsed = time.perf_counter() - started
        assert response.status == 200, response.text
        return elapsed, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12, help="per interaction")
    parser.add_argument("--latency", type=float, default=5.0, help="seconds per Kubernetes GET")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with (
        SlackApiServer() as slack,
        KubeApiServer() as kube,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for index, zone in enumerate(("eu-1a", "eu-1b", "eu-1c")):
            kube.add_node(f"node-{index}", zone=zone)
        kube.add_namespace("payments")
        kube.add_deployment("payments", "checkout", replicas=3, labels={"app": "checkout"})
        db = Database(f"sqlite:///{tmp}/bench.db")
        upgrade(db)
        save_checkout(
            db,
            at=START,
            probes=[{"url": "http://checkout.payments.svc/healthz"}],
            suite=[{"experiment": "pod-kill", "parameters": {}}],
        )
        settings = Settings(
            slack_bot_token=Secret(slack.bot_token),
            slack_signing_secret=Secret(SECRET),
            slack_api_url=slack.base_url,
            database_url=db.url,
            http_host="127.0.0.1",
            http_port=0,
            allowed_namespaces=frozenset({"payments"}),
            kubeconfig=str(kube.write_kubeconfig(Path(tmp) / "kubeconfig")),
        )
        server = Server(settings, db=db, clock=FrozenClock(START))
        server.start_in_thread()
        try:
            bench = _Bench(
                SlackSimulator(
                    bot_url=f"{server.url}/slack/events", signing_secret=SECRET, api=slack
                ),
                slack,
            )
            kube.inject_latency("GET", ".", args.latency)
            days = _weekdays(args.samples)
            interactions: dict[str, Callable[[int], tuple[float, Callable[[], bool] | None]]] = {
                "onboarding form": bench.onboarding,
                "game-day request form": lambda i: bench.gameday(i, days[i]),
                "workload picker (options)": bench.workload_options,
                "/chaos service (control)": bench.service_command,
            }
            print(
                f"Kubernetes API answering every GET in {args.latency:g} s; "
                f"ack budget {settings.ack_budget_seconds:g} s; {args.samples} samples each"
            )
            worst = 0.0
            for name, interaction in interactions.items():
                # One at a time for forms (each opens its own modal first), in a pool for the rest.
                workers = 1 if "form" in name else args.concurrency
                with ThreadPoolExecutor(workers) as pool:
                    results = list(pool.map(interaction, range(args.samples)))
                acks = [r[0] for r in results]
                follow_ups = [f for _, f in results if f is not None]
                arrived = (
                    f"{sum(1 for f in follow_ups if f())}/{len(follow_ups)}"
                    if follow_ups
                    else "n/a (nothing follows)"
                )
                p50, p99 = _percentile(acks, 50), _percentile(acks, 99)
                worst = max(worst, p99)
                print(
                    f"{name:28s} ack p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
                    f"later answer arrived {arrived}"
                )
            print(f"worst p99 {worst:.2f} s: {'within' if worst < 2.5 else 'OVER'} 2.5 s")
        finally:
            kube.clear_faults()
            server.close()


if __name__ == "__main__":
    main()
