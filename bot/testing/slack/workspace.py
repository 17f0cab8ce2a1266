"""State of the fake Slack workspace that SlackApiServer's Web API methods read and change.

Nothing here is thread-safe on its own: SlackApiServer holds its lock around every use.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

JsonDict = dict[str, Any]

# Message timestamps start at a fixed instant so that test runs are reproducible; each new
# message is 100 microseconds after the previous one, as in "1700000000.000100".
_FIRST_TS_MICROS = 1_700_000_000_000_100
_TS_STEP_MICROS = 100


class UserProfile(TypedDict, total=False):
    """What a test may say about a workspace member; anything left out gets a default."""

    name: str
    real_name: str
    email: str
    tz: str
    tz_label: str
    tz_offset: int
    is_admin: bool
    is_owner: bool
    is_bot: bool
    deleted: bool


class ChannelInfo(TypedDict, total=False):
    """What a test may say about a channel; anything left out gets a default."""

    name: str
    is_private: bool
    is_archived: bool
    members: list[str]
    topic: str
    purpose: str


class MethodError(Exception):
    """A Slack error code (e.g. channel_not_found) that a Web API method answers with ok=false."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Upload:
    """A file sent through files.getUploadURLExternal, its upload URL and completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    data: bytes = b""
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False

    @property
    def channel(self) -> str | None:
        """The first channel the file was shared to, if any."""
        return self.channels[0] if self.channels else None


@dataclass(frozen=True)
class ResponseTarget:
    """The message and user a response_url belongs to, so that its replies change the right thing."""

    channel: str | None = None
    message_ts: str | None = None
    user_id: str | None = None


class Workspace:
    """Messages, views, App Homes, uploads, users and channels of one fake Slack workspace."""

    def __init__(
        self,
        *,
        bot_user_id: str,
        bot_id: str,
        team_id: str,
        team_domain: str,
        app_id: str,
        users: Mapping[str, UserProfile],
        missing_users: Iterable[str],
        channels: Mapping[str, ChannelInfo],
        missing_channels: Iterable[str],
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.users: dict[str, UserProfile] = {uid: copy.copy(p) for uid, p in users.items()}
        self.missing_users = frozenset(missing_users)
        self.channels: dict[str, ChannelInfo] = {cid: copy.copy(c) for cid, c in channels.items()}
        self.missing_channels = frozenset(missing_channels)
        self.messages: dict[str, list[JsonDict]] = {}
        self.ephemerals: dict[str, list[JsonDict]] = {}
        self.views: dict[str, JsonDict] = {}
        self.homes: dict[str, str] = {}
        self.uploads: dict[str, Upload] = {}
        self.expired_triggers: set[str] = set()
        self.joined: set[str] = set()
        self.mpims: dict[frozenset[str], str] = {}
        # Set by the server once it knows its port: upload URLs must point back at it.
        self.server_root = ""
        self._ts = itertools.count(_FIRST_TS_MICROS, _TS_STEP_MICROS)
        self._serial = itertools.count(1)

    # Identifiers -----------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp later than every one handed out before."""
        micros = next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-style id such as "V0000007" (one counter for all kinds keeps them unique)."""
        return f"{prefix}{next(self._serial):07d}"

    def new_hash(self) -> str:
        """A fresh view hash, the token views.update compares to detect concurrent edits."""
        return f"{self.next_ts()}.{next(self._serial):08x}"

    # Users -----------------------------------------------------------------------------------

    def user(self, user_id: str) -> JsonDict:
        """The users.info object for any "U"/"W" id, unless the test configured it as missing."""
        if user_id == self.bot_user_id:
            return self._user_object(
                user_id, {"name": "chaosbot", "real_name": "Chaosbot"}, bot=True
            )
        if user_id in self.missing_users or not user_id.startswith(("U", "W")):
            raise MethodError("user_not_found")
        return self._user_object(user_id, self.users.get(user_id, {}), bot=False)

    def user_by_email(self, email: str) -> JsonDict:
        """The configured member whose (given or default) email address is `email`."""
        for user_id in self.users:
            found = self.user(user_id)
            if found["profile"]["email"].lower() == email.lower():
                return found
        raise MethodError("users_not_found")

    def _user_object(self, user_id: str, given: UserProfile, *, bot: bool) -> JsonDict:
        name = given.get("name", user_id.lower())
        real_name = given.get("real_name", f"User {user_id}")
        tz = given.get("tz", "UTC")
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": given.get("deleted", False),
            "real_name": real_name,
            "tz": tz,
            "tz_label": given.get("tz_label", tz),
            "tz_offset": given.get("tz_offset", 0),
            "is_admin": given.get("is_admin", False),
            "is_owner": given.get("is_owner", False),
            "is_bot": given.get("is_bot", bot),
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": name,
                "display_name_normalized": name,
                "email": given.get("email", f"{name}@example.com"),
                "team": self.team_id,
                "image_48": f"https://avatars.example.com/{user_id}_48.png",
            },
        }

    # Channels --------------------------------------------------------------------------------

    def resolve_channel(self, channel: object) -> str:
        """The channel id a message to `channel` lands in: a user id means the DM with them."""
        if not isinstance(channel, str) or not channel or channel in self.missing_channels:
            raise MethodError("channel_not_found")
        if channel.startswith("#"):
            for channel_id, info in self.channels.items():
                if info.get("name") == channel[1:]:
                    return channel_id
            raise MethodError("channel_not_found")
        if channel.startswith(("U", "W")):
            try:
                self.user(channel)
            except MethodError:
                raise MethodError("channel_not_found") from None
            return self.im_id(channel)
        if not channel.startswith(("C", "G", "D")):
            raise MethodError("channel_not_found")
        return channel

    def im_id(self, user_id: str) -> str:
        """The DM channel with a user; derived from the user id so it is the same every time."""
        return "D" + user_id[1:]

    def members(self, channel_id: str) -> list[str]:
        """Who is in a channel: as configured, else every configured user; the bot once joined."""
        info = self.channels.get(channel_id, {})
        members = list(info.get("members", self.users))
        if channel_id in self.joined and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return members

    def channel(self, channel_id: str) -> JsonDict:
        """The conversations.info object for a channel or DM."""
        channel_id = self.resolve_channel(channel_id)
        if channel_id.startswith("D"):
            return {
                "id": channel_id,
                "created": 1_700_000_000,
                "is_im": True,
                "is_org_shared": False,
                "user": "U" + channel_id[1:],
                "is_user_deleted": False,
                "priority": 0,
            }
        info = self.channels.get(channel_id, {})
        name = info.get("name", f"channel-{channel_id.lower()}")
        members = self.members(channel_id)
        return {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": info.get("is_private", channel_id.startswith("G")),
            "is_archived": info.get("is_archived", False),
            "is_general": False,
            "is_member": channel_id in self.joined or self.bot_user_id in members,
            "created": 1_700_000_000,
            "creator": next(iter(self.users), self.bot_user_id),
            "topic": {"value": info.get("topic", ""), "creator": "", "last_set": 0},
            "purpose": {"value": info.get("purpose", ""), "creator": "", "last_set": 0},
            "num_members": len(members),
        }

    # Messages --------------------------------------------------------------------------------

    def post(self, channel_id: str, fields: JsonDict) -> JsonDict:
        """Store a new bot message in a channel; returns a copy of what was stored."""
        message: JsonDict = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": "",
            **copy.deepcopy(fields),
            "ts": self.next_ts(),
        }
        self.messages.setdefault(channel_id, []).append(message)
        return copy.deepcopy(message)

    def find_message(self, channel_id: str, ts: object) -> JsonDict:
        """The stored message itself (not a copy), for methods that change it."""
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise MethodError("message_not_found")

    def delete_message(self, channel_id: str, ts: object) -> None:
        """Remove a stored message."""
        self.messages[channel_id].remove(self.find_message(channel_id, ts))

    def thread(self, channel_id: str, ts: str) -> list[JsonDict]:
        """The replies to a message, oldest first (the parent itself not included)."""
        return [
            m
            for m in self.messages.get(channel_id, [])
            if m.get("thread_ts") == ts and m["ts"] != ts
        ]

    def listed_message(self, channel_id: str, message: JsonDict) -> JsonDict:
        """A copy of a message as the conversations.* methods show it, with its thread summary."""
        shown = copy.deepcopy(message)
        replies = self.thread(channel_id, message["ts"])
        if replies:
            shown["thread_ts"] = message["ts"]
            shown["reply_count"] = len(replies)
            shown["reply_users"] = sorted({m["user"] for m in replies})
            shown["latest_reply"] = replies[-1]["ts"]
        return shown
