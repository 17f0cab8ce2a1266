"""`/chaos`: one slash command, many subcommands, routed by the first word."""

from __future__ import annotations

import difflib
import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.errors import ChaosbotError
from bot.slack.errors import ErrorReporter, ack_only
from bot.slack.ids import SlashCommand
from bot.slack.replies import Reply
from bot.slack.templates import render

__all__ = ["CommandRequest", "CommandRouter", "Handler", "Subcommand", "register"]

log = logging.getLogger(__name__)

# What shlex treats specially (with comments off, as shlex.split has them), and its whitespace.
_SHELL_SYNTAX = frozenset("'\"\\")
_SHELL_WHITESPACE = re.compile("[ \t\r\n]+")

# Where the instant listener's filter leaves the parsed command for the listener itself.
_PARSED = "chaosbot_command"


@dataclass(frozen=True)
class CommandRequest:
    """A parsed `/chaos ...` invocation."""

    user_id: str
    channel_id: str
    team_id: str
    trigger_id: str
    name: str
    args: tuple[str, ...]
    text: str
    client: WebClient | None = None

    @classmethod
    def parse(cls, command: dict[str, Any], client: WebClient | None = None) -> CommandRequest:
        """Split the text like a shell would, so quoted arguments keep their spaces."""
        text = str(command.get("text") or "").strip()
        words = split_words(text)
        name = words[0].lower() if words else "help"
        return cls(
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            team_id=str(command.get("team_id", "")),
            trigger_id=str(command.get("trigger_id", "")),
            name=name,
            args=tuple(words[1:]),
            text=text,
            client=client,
        )


def split_words(text: str) -> list[str]:
    """`text` split like a shell would; without quotes or backslashes that is a plain split on
    the shell's whitespace, which most commands are (`shlex` costs ten times as much)."""
    if _SHELL_SYNTAX.isdisjoint(text):
        return [word for word in _SHELL_WHITESPACE.split(text) if word]
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ChaosbotError(f"I could not read that command: {exc}.") from None


Handler = Callable[[CommandRequest], Reply | None]


@dataclass(frozen=True)
class Subcommand:
    """One `/chaos NAME` subcommand.

    `instant` handlers are pure and fast: they answer inside the ack. The others are acked at once
    and run afterwards (Slack gives an ack three seconds), answering through the response_url.
    """

    name: str
    usage: str
    summary: str
    handler: Handler
    instant: bool = False


class CommandRouter:
    """The table of subcommands; `help` lists them and unknown names get a suggestion."""

    def __init__(self) -> None:
        self._subcommands: dict[str, Subcommand] = {}
        # The help, rendered once for the subcommands registered so far (add() forgets it):
        # it was a third of a `/chaos help` ack's time in the app.
        self._help: Reply | None = None
        self.add(
            Subcommand(
                name="help",
                usage="/chaos help",
                summary="what chaosbot can do (this list)",
                handler=lambda _request: self.help(),
                instant=True,
            )
        )

    def add(self, subcommand: Subcommand) -> None:
        if subcommand.name in self._subcommands:
            raise ValueError(f"subcommand {subcommand.name!r} registered twice")
        self._subcommands[subcommand.name] = subcommand
        self._help = None

    @property
    def subcommands(self) -> list[Subcommand]:
        return list(self._subcommands.values())

    def resolve(self, name: str) -> Subcommand:
        """The subcommand called `name`, or an instant one that explains it does not exist."""
        found = self._subcommands.get(name)
        if found is not None:
            return found
        return Subcommand(
            name=name, usage="", summary="", handler=lambda _r: self.unknown(name), instant=True
        )

    def help(self) -> Reply:
        if self._help is None:
            self._help = Reply.markdown(render("slack/help.md.j2", commands=self.subcommands))
        return self._help

    def unknown(self, name: str) -> Reply:
        close = difflib.get_close_matches(name, list(self._subcommands), n=1, cutoff=0.5)
        text = render(
            "slack/unknown_command.md.j2", name=name, suggestion=close[0] if close else ""
        )
        return Reply.markdown(text + "\n\n" + self.help().text)


class _InstantOnly(Middleware):
    """The instant listener's filter: it lets a subcommand answered in the ack through (and an
    unreadable text, which that listener explains), with its parse left in the request's
    context; anything else goes on to the next listener.

    A Middleware object, because Bolt calls it as it is; a matcher function would cost Bolt a
    build of every listener argument on every `/chaos` (profiled: a fifth of the app's time
    over a bare Bolt app's).
    """

    def __init__(self, router: CommandRouter) -> None:
        self._router = router

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        try:
            request = CommandRequest.parse(req.body)
        except ChaosbotError:
            return next()
        if not self._router.resolve(request.name).instant:
            return None  # next() not called: Bolt tries the next listener
        req.context[_PARSED] = request
        return next()


def register(app: App, *, router: CommandRouter, reporter: ErrorReporter) -> None:
    """Listen for `/chaos`: instant subcommands answer in the ack; the rest ack, then work.

    Two listeners, so instant answers pay nothing for Bolt's lazy machinery (a deep copy of the
    request and a thread per request). The instant one comes first; its filter's parse is the
    only one an instant answer makes.
    """

    def answer_at_once(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        request = context.get(_PARSED) or CommandRequest.parse(command)
        reply = router.resolve(request.name).handler(request)
        ack(**(reply.as_response() if reply else {}))

    def work_after_ack(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        with reporter.reporting(respond):
            request = CommandRequest.parse(command, client)
            reply = router.resolve(request.name).handler(request)
            if reply is not None:
                respond(**reply.as_response())

    name = SlashCommand.CHAOS.value
    app.command(name, middleware=[_InstantOnly(router)])(answer_at_once)
    app.command(name)(ack=ack_only, lazy=[work_after_ack])
