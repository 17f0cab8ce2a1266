"""The one place errors become words for a person: known ones say what to do, unknown ones get
an error id that is logged with the traceback and shown (without the traceback) in Slack."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack, BoltResponse, Respond
from slack_sdk import WebClient

from bot.errors import ChaosbotError
from bot.slack.mrkdwn import escape
from bot.slack.replies import Reply
from bot.slack.responder import HomeNote, Responder

__all__ = ["ActionHandler", "ErrorReporter", "ack_only"]

log = logging.getLogger(__name__)


# A button's lazy listener: the click's body, how to answer the person, and the Web API client.
ActionHandler = Callable[[dict[str, Any], Responder, WebClient], None]
# The same as Bolt calls it: Bolt's `respond`, which has no response_url on the App Home tab.
BoltActionListener = Callable[[dict[str, Any], Respond, WebClient], None]


def ack_only(ack: Ack) -> None:
    """The ack of a listener whose work is done lazily, after Slack's three seconds."""
    ack()


class ErrorReporter:
    """Turns exceptions into replies and keeps the details in the log.

    `home` publishes a person's Home tab with a line on top: how a button on the tab, which has
    no response_url, is answered (see `Responder`).
    """

    def __init__(self, *, home: HomeNote | None = None) -> None:
        self._home = home

    def reply_for(self, error: BaseException) -> Reply:
        """The reply a person sees for this error."""
        if isinstance(error, ChaosbotError):
            # Messages may quote what a person typed: escaped, so it cannot become a mention.
            return Reply.markdown(f":warning: {escape(str(error))}")
        error_id = secrets.token_hex(4)
        log.error("unexpected error %s", error_id, exc_info=error)
        return Reply.markdown(
            f":boom: Something went wrong on chaosbot's side (error id `{error_id}`). "
            "Nothing was changed by this request; the platform team can look the id up in the logs."
        )

    def responder(
        self, body: dict[str, Any], respond: Respond | None, client: WebClient
    ) -> Responder:
        """How to answer the person who sent `body`, on the surface they used."""
        return Responder(body=body, respond=respond, client=client, home=self._home)

    def bolt_error_handler(
        self, error: Exception, body: dict[str, Any], respond: Respond | None, client: WebClient
    ) -> BoltResponse:
        """Bolt's global error handler: errors raised before or inside the ack."""
        reply = self.reply_for(error)
        if body.get("command"):
            # A slash command that failed before its ack: the reply is the HTTP response itself.
            return BoltResponse(status=200, body=reply.as_response())
        if body.get("type") == "view_submission":
            # The modal stays open and shows what happened instead of its form.
            return BoltResponse(
                status=200, body={"response_action": "update", "view": _error_view(reply)}
            )
        if body.get("type") == "block_actions" or body.get("response_url"):
            self._respond(self.responder(body, respond, client), reply)
        return BoltResponse(status=200, body="")

    @contextmanager
    def reporting(self, respond: Callable[..., Any] | None) -> Iterator[None]:
        """Report errors of work done after the ack (Bolt would only log them)."""
        try:
            yield
        except Exception as error:
            reply = self.reply_for(error)
            if respond is not None:
                self._respond(respond, reply)

    def reported(self, handler: ActionHandler) -> BoltActionListener:
        """`handler` as a button's lazy listener: it answers, and its errors are reported, to
        the person who clicked, wherever the button was (a message, the App Home tab, a modal)."""

        def listener(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
            responder = self.responder(body, respond, client)
            with self.reporting(responder):
                handler(body, responder, client)

        return listener

    @staticmethod
    def _respond(respond: Callable[..., Any], reply: Reply) -> None:
        try:
            respond(**reply.as_response(), replace_original=False)
        except Exception:
            log.exception("could not tell the person about an error")


def _error_view(reply: Reply) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "chaosbot"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": reply.blocks,
    }
