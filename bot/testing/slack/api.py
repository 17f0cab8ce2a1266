"""A Slack Web API test server: the bot's real WebClient talks to it over HTTP on 127.0.0.1.

It answers the Web API methods in slack_api_methods like Slack does, keeps the workspace state
they change (messages, views, App Homes, uploads), records every call for assertions, can be
told to fail the next calls (rate limits, outages), and serves the response_urls that Slack puts
in slash commands and interactions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

from bot.testing.slack.api_http import ApiAnswer, HttpFrontend, Routes
from bot.testing.slack.api_methods import METHODS, apply_response
from bot.testing.slack.validation import message_problem, view_problem
from bot.testing.slack.workspace import (
    ChannelInfo,
    JsonDict,
    MethodError,
    ResponseTarget,
    Upload,
    UserProfile,
    Workspace,
)

__all__ = [
    "ApiCall",
    "ChannelInfo",
    "InvalidPayload",
    "ResponseUrlCall",
    "SlackApiServer",
    "Upload",
    "UserProfile",
]

_DEFAULT_RETRY_AFTER = 1
_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
_VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class ApiCall:
    """One Web API request the bot made, with the answer the server gave it."""

    method: str
    body: JsonDict
    token: str | None
    at: float
    status: int = 200
    response: JsonDict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the call was answered with ok=true."""
        return self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The Slack error code of a failed call, e.g. "ratelimited"."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass(frozen=True)
class ResponseUrlCall:
    """One message the bot posted to a response_url."""

    response_id: str
    body: JsonDict
    at: float


@dataclass(frozen=True)
class InvalidPayload:
    """Something the bot sent that Slack would refuse: where it went, why, and the body."""

    where: str  # a Web API method, "response_url" or "ack"
    problem: str
    body: JsonDict


@dataclass
class _Fault:
    """A queued failure for the next calls to one method (see SlackApiServer.fail_next)."""

    error: str
    status: int
    retry_after: int | None
    remaining: int

    def answer(self) -> ApiAnswer:
        """The HTTP answer standing in for the method's real one."""
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return self.status, headers, {"ok": False, "error": self.error}


class SlackApiServer:
    """The Slack Web API, answered from memory on 127.0.0.1 for tests and the offline demo."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a made-up token only this server knows
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        team_domain: str = "chaosbot-test",
        app_id: str = "A0001",
        users: Mapping[str, UserProfile] | None = None,
        missing_users: Iterable[str] = (),
        channels: Mapping[str, ChannelInfo] | None = None,
        missing_channels: Iterable[str] = (),
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.app_id = app_id
        self._workspace = Workspace(
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            team_id=team_id,
            team_domain=team_domain,
            app_id=app_id,
            users=users or {},
            missing_users=missing_users,
            channels=channels or {},
            missing_channels=missing_channels,
        )
        # One re-entrant lock guards the workspace, the records and the faults; waiters sleep
        # on its condition until a request handler notifies them.
        self._changed = threading.Condition(threading.RLock())
        self._calls: list[ApiCall] = []
        self._responses: list[ResponseUrlCall] = []
        self._response_targets: dict[str, ResponseTarget] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._invalid: list[InvalidPayload] = []
        self._server: HttpFrontend | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("SlackApiServer is already started")
        self._server = HttpFrontend(
            Routes(
                api_call=self._answer_api,
                upload=self._receive_upload,
                response=self._receive_response,
            )
        )
        self._workspace.server_root = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval keeps stop() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="slack-api-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SlackApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """The server's own address, e.g. "http://127.0.0.1:54321"."""
        if self._server is None:
            raise RuntimeError("SlackApiServer is not started")
        return self._workspace.server_root

    @property
    def base_url(self) -> str:
        """What WebClient(base_url=...) takes: "http://127.0.0.1:PORT/api/"."""
        return f"{self.root_url}/api/"

    def response_url(
        self,
        id: str | None = None,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """Mint a response_url; with a channel (and message ts) its replies change that message."""
        response_id = id or uuid.uuid4().hex
        with self._changed:
            self._response_targets[response_id] = ResponseTarget(channel, message_ts, user_id)
        return f"{self.root_url}/response/{response_id}"

    # Fault injection -------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail, after any failures already queued.

        "ratelimited" answers HTTP 429 with a Retry-After header (1 second unless given), as
        Slack does; other errors answer HTTP 200 with ok=false. `status` overrides the HTTP
        status, e.g. 500 or 503 for an outage.
        """
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = _DEFAULT_RETRY_AFTER
        with self._changed:
            self._faults.setdefault(method, deque()).append(
                _Fault(error=error, status=status, retry_after=retry_after, remaining=times)
            )

    def expire_trigger(self, trigger_id: str) -> None:
        """Make views.open/views.push with this trigger_id answer expired_trigger_id."""
        with self._changed:
            self._workspace.expired_triggers.add(trigger_id)

    # Recorded calls --------------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """Every Web API call so far, in arrival order."""
        with self._changed:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The calls to one method, in arrival order."""
        return [call for call in self.calls if call.method == method]

    def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[ApiCall], bool] | None = None,
    ) -> list[ApiCall]:
        """Block until `count` calls to `method` (matching `where`) arrived; returns them all."""

        def matching() -> list[ApiCall]:
            return [c for c in self._calls if c.method == method and (where is None or where(c))]

        def seen() -> str:
            return ", ".join(f"{c.method}({c.error or 'ok'})" for c in self._calls) or "none"

        wanted = f"{count} call(s) to {method}" + (" matching `where`" if where else "")
        return self._wait(matching, count, timeout, wanted, seen)

    @property
    def responses(self) -> list[ResponseUrlCall]:
        """Every post to a response_url so far, in arrival order."""
        with self._changed:
            return list(self._responses)

    def wait_for_response(
        self,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[ResponseUrlCall], bool] | None = None,
    ) -> list[ResponseUrlCall]:
        """Block until `count` response_url posts (matching `where`) arrived; returns them all."""

        def matching() -> list[ResponseUrlCall]:
            return [r for r in self._responses if where is None or where(r)]

        def seen() -> str:
            return ", ".join(json.dumps(r.body)[:80] for r in self._responses) or "none"

        wanted = f"{count} response_url post(s)" + (" matching `where`" if where else "")
        return self._wait(matching, count, timeout, wanted, seen)

    def _wait(
        self,
        matching: Callable[[], list[_Item]],
        count: int,
        timeout: float,
        wanted: str,
        seen: Callable[[], str],
    ) -> list[_Item]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"expected {wanted} within {timeout}s; saw: {seen()}")
            return matching()

    def clear(self) -> None:
        """Forget the recorded calls and response_url posts (the workspace state stays)."""
        with self._changed:
            self._calls.clear()
            self._responses.clear()

    @property
    def invalid_payloads(self) -> list[InvalidPayload]:
        """Every message or view the bot sent that Slack would have refused (invalid_blocks)."""
        with self._changed:
            return list(self._invalid)

    def check_ack(self, body: JsonDict) -> str | None:
        """Check the body of an ack (a slash command's answer, a view submission's response
        action) as Slack does; a problem is recorded like a refused Web API call."""
        if body.get("response_action") in ("update", "push"):
            problem = view_problem(body.get("view"))
        elif "response_action" in body:
            problem = None
        else:
            problem = message_problem(body)
        if problem is not None:
            with self._changed:
                self._invalid.append(InvalidPayload("ack", problem, body))
        return problem

    # Workspace state -------------------------------------------------------------------------

    def messages(self, channel: str) -> list[JsonDict]:
        """The channel's messages as they are now (after updates and deletes), oldest first."""
        with self._changed:
            return copy.deepcopy(self._workspace.messages.get(channel, []))

    def message(self, channel: str, ts: str) -> JsonDict | None:
        """One stored message as it is now, or None if it was never posted or was deleted."""
        return next((m for m in self.messages(channel) if m["ts"] == ts), None)

    def ephemerals(self, channel: str) -> list[JsonDict]:
        """Ephemeral messages shown in a channel, each with its recipient as "user"."""
        with self._changed:
            return copy.deepcopy(self._workspace.ephemerals.get(channel, []))

    @property
    def views(self) -> dict[str, JsonDict]:
        """Every view opened, pushed, updated or published, as it is now, by view id."""
        with self._changed:
            return copy.deepcopy(self._workspace.views)

    def home(self, user_id: str) -> JsonDict | None:
        """The App Home view last published for a user."""
        with self._changed:
            view_id = self._workspace.homes.get(user_id)
            return copy.deepcopy(self._workspace.views[view_id]) if view_id else None

    @property
    def uploads(self) -> list[Upload]:
        """Files whose upload was completed with files.completeUploadExternal."""
        with self._changed:
            done = [u for u in self._workspace.uploads.values() if u.completed]
            return [dataclasses.replace(u, channels=list(u.channels)) for u in done]

    def user(self, user_id: str) -> JsonDict | None:
        """The users.info object for a user, or None for a user configured as missing."""
        return self._info(self._workspace.user, user_id)

    def channel(self, channel_id: str) -> JsonDict | None:
        """The conversations.info object for a channel, or None for a missing channel."""
        return self._info(self._workspace.channel, channel_id)

    def _info(self, lookup: Callable[[str], JsonDict], key: str) -> JsonDict | None:
        """What the workspace's `lookup` answers for `key`, or None where it answers an error."""
        with self._changed:
            try:
                return lookup(key)
            except MethodError:
                return None

    # Request handling (called from the HTTP server's threads) ---------------------------------

    def _answer_api(
        self, method: str, token: str | None, body: JsonDict | MethodError
    ) -> ApiAnswer:
        with self._changed:
            status, headers, response = self._answer_api_locked(method, token, body)
            recorded = body if isinstance(body, dict) else {}
            self._calls.append(ApiCall(method, recorded, token, time.time(), status, response))
            self._changed.notify_all()
            return status, headers, copy.deepcopy(response)

    def _answer_api_locked(
        self, method: str, token: str | None, body: JsonDict | MethodError
    ) -> ApiAnswer:
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.popleft()
            return fault.answer()
        handler = METHODS.get(method)
        try:
            if handler is None:
                raise MethodError("unknown_method")
            if not token:
                raise MethodError("not_authed")
            if token != self.bot_token:
                raise MethodError("invalid_auth")
            if isinstance(body, MethodError):
                raise body
            problem = self._payload_problem(method, body)
            if problem is not None:
                self._invalid.append(InvalidPayload(method, problem, body))
                return 200, {}, _invalid_blocks(problem)
            return 200, {}, {"ok": True, **handler(self._workspace, body)}
        except MethodError as failure:
            return 200, {}, {"ok": False, "error": failure.error}

    @staticmethod
    def _payload_problem(method: str, body: JsonDict) -> str | None:
        if method in _MESSAGE_METHODS:
            return message_problem(body)
        if method in _VIEW_METHODS:
            return view_problem(body.get("view"))
        return None

    def _receive_upload(self, file_id: str, data: bytes) -> bool:
        with self._changed:
            upload = self._workspace.uploads.get(file_id)
            if upload is not None:
                upload.data = data
            return upload is not None

    def _receive_response(self, response_id: str, body: JsonDict) -> str | None:
        with self._changed:
            problem = message_problem(body)
            if problem is not None:
                self._invalid.append(InvalidPayload("response_url", problem, body))
            else:
                target = self._response_targets.get(response_id, ResponseTarget())
                apply_response(self._workspace, target, body)
            self._responses.append(ResponseUrlCall(response_id, body, time.time()))
            self._changed.notify_all()
            return problem


def _invalid_blocks(problem: str) -> JsonDict:
    """Slack's answer to a message or view it cannot show."""
    return {
        "ok": False,
        "error": "invalid_blocks",
        "errors": [problem],
        "response_metadata": {"messages": [f"[ERROR] {problem}"]},
    }
