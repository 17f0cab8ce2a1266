"""Requests from Slack to the bot, signed and shaped as Slack sends them, for tests and the demo.

SlackSimulator plays Slack's side of the HTTP conversation: slash commands, interactivity
payloads (block actions, modal submissions) and Events API callbacks, each signed with the app's
signing secret so that they pass (or, on request, fail) the bot's signature check.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode, urlsplit

from bot.testing.slack.api import SlackApiServer

JsonDict = dict[str, Any]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Slack's legacy verification token, still sent in every payload; bots should ignore it.
VERIFICATION_TOKEN = "legacy-verification-token"
_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(signing_secret: str, body: bytes | str, timestamp: int) -> str:
    """Slack's request signature: "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    signing_secret: str,
    body: bytes | str,
    *,
    timestamp: int | None = None,
    content_type: str = FORM,
) -> dict[str, str]:
    """The headers Slack sends with a request body: content type, timestamp and signature."""
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(when),
        "X-Slack-Signature": sign(signing_secret, body, when),
    }


class SendOptions(TypedDict, total=False):
    """Ways to bend a request, to test the bot's verification and retry handling."""

    timestamp: int
    """Sign with this Unix time instead of the clock's (e.g. six minutes ago: a replay)."""
    forge_signature: bool
    """Send a signature made with the wrong secret."""
    retry_num: int
    """Send X-Slack-Retry-Num, as Slack does when it retries an event the bot did not ack."""
    retry_reason: str
    """Send X-Slack-Retry-Reason, e.g. "http_timeout"."""


@dataclass(frozen=True)
class SlackHttpResponse:
    """What the bot answered to one simulated request."""

    status: int
    headers: Mapping[str, str]
    text: str
    elapsed: float = field(default=0.0, compare=False)
    """Seconds until the answer arrived; Slack gives up after 3."""

    def json(self) -> Any:
        """The body parsed as JSON (the ack of a view submission, a url_verification, ...)."""
        return json.loads(self.text)


class SlackSimulator:
    """Sends the bot the requests Slack would send, signed with the app's signing secret."""

    def __init__(
        self,
        *,
        bot_url: str,
        signing_secret: str,
        api: SlackApiServer,
        team_id: str | None = None,
        api_app_id: str | None = None,
        team_domain: str = "chaosbot-test",
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        if urlsplit(bot_url).scheme not in ("http", "https"):
            raise ValueError(f"bot_url must be an http(s) URL, not {bot_url!r}")
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.api = api
        self.team_id = team_id or api.team_id
        self.api_app_id = api_app_id or api.app_id
        self.team_domain = team_domain
        self.clock = clock
        self.timeout = timeout
        self._serial = itertools.count(1)

    # Slash commands --------------------------------------------------------------------------

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str,
        channel_id: str,
        user_name: str | None = None,
        trigger_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackHttpResponse:
        """A user typed `command text` in a channel: the form Slack posts for a slash command."""
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self.api.response_url(channel=channel_id, user_id=user_id),
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        return self.send(urlencode(form).encode(), FORM, **options)

    # Interactivity ---------------------------------------------------------------------------

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        selected_option: JsonDict | None = None,
        selected_user: str | None = None,
        user_id: str,
        channel_id: str | None = None,
        message: JsonDict | None = None,
        view: JsonDict | None = None,
        block_id: str | None = None,
        container: JsonDict | None = None,
        action_type: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackHttpResponse:
        """A user clicked a button (or chose an option) in a message or a view.

        In a message (channel_id given) the message defaults to the channel's latest stored
        one, and a message with a "ts" that is stored is completed from the store. In a view,
        a view with a known "id" is completed from the stored views. When the element with
        `action_id` is found in the blocks, its block_id, type, text and value are used.
        """
        payload: JsonDict = {
            "type": "block_actions",
            "user": self._user_ref(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.new_trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            shown = self._stored_view(view)
            payload["container"] = {"type": "view", "view_id": shown.get("id", "")}
            payload["view"] = shown
            payload["state"] = copy.deepcopy(shown.get("state", {"values": {}}))
            blocks = shown.get("blocks", [])
        elif channel_id is not None:
            shown = self._stored_message(channel_id, message)
            payload["container"] = {
                "type": "message",
                "message_ts": shown["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            payload["message"] = shown
            payload["state"] = {"values": {}}
            payload["response_url"] = self.api.response_url(
                channel=channel_id, message_ts=shown["ts"], user_id=user_id
            )
            blocks = shown.get("blocks", [])
        else:
            raise ValueError("block_action needs a channel_id (message) or a view")
        if container is not None:
            payload["container"] = container
        element_block, element = _find_element(blocks, action_id)
        action: JsonDict = {
            "action_id": action_id,
            "block_id": block_id or element_block or "b",
            "type": action_type or element.get("type") or _default_type(selected_option),
            "action_ts": self._action_ts(),
        }
        if "text" in element:
            action["text"] = element["text"]
        if value is not None or "value" in element:
            action["value"] = value if value is not None else element["value"]
        if selected_option is not None:
            action["selected_option"] = selected_option
        if selected_user is not None:
            action["selected_user"] = selected_user  # a users_select
        payload["actions"] = [action]
        return self.send_payload(payload, **options)

    def view_submission(
        self,
        callback_id: str,
        *,
        values: Mapping[str, Mapping[str, JsonDict]],
        user_id: str,
        private_metadata: str | None = None,
        view_id: str | None = None,
        hash: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackHttpResponse:
        """A user submitted a modal; `values` is state.values (block_id -> action_id -> value).

        With the view_id of a view the bot opened, the stored view (blocks, private_metadata,
        hash) is what gets submitted; the arguments given here override it.
        """
        view = self._submitted_view(callback_id, view_id, private_metadata, hash)
        view["state"] = {"values": copy.deepcopy(dict(values))}
        payload = {
            **self._view_payload("view_submission", user_id, view),
            "trigger_id": self.new_trigger_id(),
            "response_urls": [],
        }
        return self.send_payload(payload, **options)

    def view_closed(
        self,
        callback_id: str,
        *,
        user_id: str,
        private_metadata: str | None = None,
        view_id: str | None = None,
        hash: str | None = None,
        is_cleared: bool = False,
        **options: Unpack[SendOptions],
    ) -> SlackHttpResponse:
        """A user closed a modal that was opened with notify_on_close."""
        view = self._submitted_view(callback_id, view_id, private_metadata, hash)
        payload = {**self._view_payload("view_closed", user_id, view), "is_cleared": is_cleared}
        return self.send_payload(payload, **options)

    # Events API ------------------------------------------------------------------------------

    def event(
        self, event: JsonDict, *, event_id: str | None = None, **options: Unpack[SendOptions]
    ) -> SlackHttpResponse:
        """An Events API callback (app_mention, app_home_opened, ...) wrapping `event`."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._serial):010d}",
            "event_time": int(self.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.api.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{next(self._serial):012d}",
        }
        return self.send(json.dumps(envelope).encode(), JSON, **options)

    def url_verification(self, challenge: str, **options: Unpack[SendOptions]) -> SlackHttpResponse:
        """The handshake Slack sends when the Events API request URL is configured."""
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send(json.dumps(body).encode(), JSON, **options)

    # Sending ---------------------------------------------------------------------------------

    def send_payload(self, payload: JsonDict, **options: Unpack[SendOptions]) -> SlackHttpResponse:
        """Post an interactivity payload the way Slack does: a form with one `payload` field."""
        return self.send(urlencode({"payload": json.dumps(payload)}).encode(), FORM, **options)

    def send(
        self, body: bytes, content_type: str, **options: Unpack[SendOptions]
    ) -> SlackHttpResponse:
        """Post a raw body to the bot, signed; an HTTP error status is returned, not raised."""
        timestamp = options.get("timestamp", int(self.clock()))
        secret = self.signing_secret
        if options.get("forge_signature", False):
            secret = "forged-" + secret
        headers = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
        if "retry_num" in options:
            headers["X-Slack-Retry-Num"] = str(options["retry_num"])
        if "retry_reason" in options:
            headers["X-Slack-Retry-Reason"] = options["retry_reason"]
        return self.post(body, headers)

    def post(self, body: bytes, headers: Mapping[str, str]) -> SlackHttpResponse:
        """Post a body with exactly these headers (to send what Slack never would: a timestamp
        that is not a number, a signature that is not ASCII); an HTTP error status is returned.
        Header values go out as Latin-1, as HTTP/1.1 allows."""
        headers = {"User-Agent": _USER_AGENT, **headers}
        # bot_url is checked to be http(s) in __init__, so this cannot open local files.
        request = urllib.request.Request(  # noqa: S310
            self.bot_url, data=body, headers=headers, method="POST"
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status, answer_headers, raw = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        response = SlackHttpResponse(
            status=status,
            headers=dict(answer_headers.items()),
            text=raw.decode("utf-8", errors="replace"),
            elapsed=time.monotonic() - started,
        )
        self._check_ack(response)
        return response

    def _check_ack(self, response: SlackHttpResponse) -> None:
        """Slack shows an ack's body (an answer, a modal's next view): check it as Slack would."""
        if response.status != 200 or not response.text.startswith("{"):
            return
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict):
            self.api.check_ack(body)

    def new_trigger_id(self) -> str:
        """A fresh trigger_id in Slack's format; the API server accepts it for views.open."""
        return f"{next(self._serial)}.{int(self.clock())}.{uuid.uuid4().hex}"

    # Helpers ---------------------------------------------------------------------------------

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    def _user_name(self, user_id: str) -> str:
        user = self.api.user(user_id)
        return str(user["name"]) if user else user_id.lower()

    def _user_ref(self, user_id: str) -> JsonDict:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        channel = self.api.channel(channel_id)
        return str(channel["name"]) if channel else channel_id.lower()

    def _stored_message(self, channel_id: str, given: JsonDict | None) -> JsonDict:
        stored = self.api.messages(channel_id)
        if given is None:
            if not stored:
                raise ValueError(f"no message in {channel_id} to act on; pass message=")
            return stored[-1]
        match = next((m for m in stored if m["ts"] == given.get("ts")), {})
        shown = {"type": "message", **match, **copy.deepcopy(given)}
        shown.setdefault("ts", f"{self.clock():.6f}")
        return shown

    def _stored_view(self, given: JsonDict) -> JsonDict:
        stored = self.api.views.get(given.get("id", ""), {})
        return {**stored, **copy.deepcopy(given)}

    def _submitted_view(
        self,
        callback_id: str,
        view_id: str | None,
        private_metadata: str | None,
        hash: str | None,
    ) -> JsonDict:
        view: JsonDict = {
            "id": view_id or f"V{next(self._serial):08d}",
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "hash": f"{int(self.clock())}.{next(self._serial):08x}",
            "title": {"type": "plain_text", "text": "Modal"},
            "previous_view_id": None,
            "app_id": self.api_app_id,
            "app_installed_team_id": self.team_id,
            **self.api.views.get(view_id or "", {}),
            "callback_id": callback_id,
        }
        view.setdefault("root_view_id", view["id"])
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        if hash is not None:
            view["hash"] = hash
        return view

    def _view_payload(self, kind: str, user_id: str, view: JsonDict) -> JsonDict:
        return {
            "type": kind,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_ref(user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "view": view,
            "enterprise": None,
            "is_enterprise_install": False,
        }


def _find_element(blocks: list[JsonDict], action_id: str) -> tuple[str | None, JsonDict]:
    """The block id and element with this action_id in actions/section/input blocks, if any."""
    for block in blocks:
        candidates = [*block.get("elements", []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, {}


def _default_type(selected_option: JsonDict | None) -> str:
    return "button" if selected_option is None else "static_select"
