"""The baseline for bench/ack_latency.py: a bare Bolt app answering `/chaos` with a fixed reply,
served exactly like `chaosbot serve` (waitress, same thread count, Bolt's WSGI adapter).

The reply is the one chaosbot gave to the same command, read as JSON from the file named by
BENCH_ACK_BODY, so both servers encode and send the same bytes. BENCH_PROCESS_BEFORE_RESPONSE
chooses Bolt's ack mode: "true" is chaosbot's own, "false" is Bolt's default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import create_server

from bot.serve import HTTP_THREADS


def main() -> None:
    reply: dict[str, Any] = json.loads(Path(os.environ["BENCH_ACK_BODY"]).read_text())
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(
        token=os.environ["SLACK_BOT_TOKEN"],
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=client,
        process_before_response=os.environ["BENCH_PROCESS_BEFORE_RESPONSE"] == "true",
    )

    @app.command("/chaos")
    def chaos(ack: Ack, command: dict[str, Any]) -> None:
        ack(**reply)

    server = create_server(SlackRequestHandler(app), host="127.0.0.1", port=0, threads=HTTP_THREADS)
    print(f"listening on http://127.0.0.1:{server.effective_port}", flush=True)  # type: ignore[union-attr]
    server.run()


if __name__ == "__main__":
    main()
