"""How long a signed `/chaos help` takes to be acknowledged by `chaosbot serve`, compared with a
bare Bolt app served the same way, in the same run (these machines are noisy: read the ratio).

    .venv/bin/python bench/ack_latency.py [--requests 2000] [--concurrency 16] [--rounds 4]

Every server runs as its own process against the same local Slack Web API test server; the load
generator sends signed slash commands from a thread pool and times each one to its response.
Rounds alternate between the servers, each round starting with the next one, so that drift in the
machine and a place in the order affect all alike.

The bare app answers with the very reply chaosbot gave to `/chaos help` (captured first), so the
ratio measures chaosbot's own work, not the size of its help text. It runs twice: in chaosbot's
ack mode (`process_before_response=True`, the baseline of the ratio) and in Bolt's default mode,
printed for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.testing.slack.api import SlackApiServer
from bot.testing.slack.requests import SlackHttpResponse, SlackSimulator

SECRET = "bench-signing-secret-0123456789"
ROOT = Path(__file__).resolve().parent.parent
SAME_MODE = "bare Bolt app"
DEFAULT_MODE = "bare, Bolt default"


def _start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start a server on a free port; both print "... listening on URL" once they are bound."""
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    match = re.search(r"listening on (http://\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit(f"{argv} did not start")
    return process, match.group(1)


def _simulator(url: str, api: SlackApiServer) -> SlackSimulator:
    return SlackSimulator(bot_url=url + "/slack/events", signing_secret=SECRET, api=api)


def _help(simulator: SlackSimulator) -> SlackHttpResponse:
    """One signed `/chaos help`, answered 200 or the bench stops."""
    response = simulator.slash_command("/chaos", "help", user_id="U1", channel_id="C1")
    if response.status != 200:
        raise SystemExit(f"{simulator.bot_url} answered {response.status}")
    return response


def _reply(url: str, api: SlackApiServer) -> dict[str, object]:
    """chaosbot's answer to `/chaos help`, for the bare app to send back byte for byte alike."""
    reply: dict[str, object] = _help(_simulator(url, api)).json()
    return reply


def _load(url: str, api: SlackApiServer, requests: int, concurrency: int) -> list[float]:
    simulator = _simulator(url, api)

    def one(_: int) -> float:
        started = time.perf_counter()
        _help(simulator)
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(requests)))


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per server, over all rounds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    with SlackApiServer() as api, tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
        base.update(
            SLACK_BOT_TOKEN=api.bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=api.base_url,
            CHAOSBOT_DATABASE_URL=f"sqlite:///{tmp}/bench.db",
            CHAOSBOT_HTTP_HOST="127.0.0.1",
            CHAOSBOT_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
            # /chaos help starts no run: the warm workers' template would only add its imports'
            # CPU to the first round.
            CHAOSBOT_WARM_WORKERS="false",
            CHAOSBOT_HTTP_PORT="0",
        )
        subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], env=base, check=True, capture_output=True
        )
        bare_argv = [sys.executable, str(ROOT / "bench" / "bare_bolt_app.py")]
        reply = Path(tmp) / "reply.json"
        running = {"chaosbot serve": _start([sys.executable, "-m", "bot", "serve"], base)}
        try:
            answer = _reply(running["chaosbot serve"][1], api)
            reply.write_text(json.dumps(answer))
            for name, mode in ((SAME_MODE, "true"), (DEFAULT_MODE, "false")):
                env = dict(base, BENCH_ACK_BODY=str(reply), BENCH_PROCESS_BEFORE_RESPONSE=mode)
                running[name] = _start(bare_argv, env)
                if _reply(running[name][1], api) != answer:
                    raise SystemExit(f"{name} does not answer what chaosbot answers")
            servers = list(running)
            samples: dict[str, list[float]] = {name: [] for name in servers}
            per_round = max(1, args.requests // args.rounds)
            for name in servers:  # warm-up, not counted
                _load(running[name][1], api, min(100, per_round), args.concurrency)
            for round_ in range(args.rounds):
                # Each round starts with the next server: a fixed order favours a place in it
                # (two identical bare apps differed by 6-8% at p50 here, the later one faster).
                start = round_ % len(servers)
                for name in servers[start:] + servers[:start]:
                    samples[name] += _load(running[name][1], api, per_round, args.concurrency)
        finally:
            for process, _ in running.values():
                process.terminate()
                process.wait(timeout=15)

    print(
        f"{per_round * args.rounds} signed /chaos help per server, concurrency {args.concurrency}"
    )
    rows = {}
    for name, values in samples.items():
        p50, p99 = _percentile(values, 50) * 1000, _percentile(values, 99) * 1000
        rows[name] = (p50, p99)
        print(f"{name:18s} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    ours = rows["chaosbot serve"]
    for name in (SAME_MODE, DEFAULT_MODE):
        bare = rows[name]
        print(
            f"ratio chaosbot / {name:18s} p50 {ours[0] / bare[0]:.2f}x   p99 {ours[1] / bare[1]:.2f}x"
        )


if __name__ == "__main__":
    main()
