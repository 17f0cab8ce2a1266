"""The Slack Web API methods SlackApiServer answers, as a table of method name -> handler.

Each handler takes the workspace and the decoded request body and returns the fields of a
successful answer (the server adds "ok": true); it raises MethodError for an ok=false answer.
Answers carry the fields of Slack's real responses that slack_sdk, slack_bolt and the bot read.
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Callable, Mapping
from contextlib import suppress
from decimal import Decimal, InvalidOperation

from bot.testing.slack.workspace import JsonDict, MethodError, ResponseTarget, Upload, Workspace

Method = Callable[[Workspace, JsonDict], JsonDict]

# The parts of a message that chat.* calls and response_url posts set; everything else in a
# request (unfurl_links, parse, ...) only changes rendering, which a test cannot see anyway.
_CONTENT_FIELDS = ("text", "blocks", "attachments", "thread_ts", "metadata")
_DEFAULT_PAGE = 100


def _required(body: JsonDict, key: str, error: str = "invalid_arguments") -> str:
    value = body.get(key)
    if value is None or value == "":
        raise MethodError(error)
    return str(value)


def _flag(body: JsonDict, key: str) -> bool:
    # Form bodies carry booleans as "true"/"1" (slack_sdk sends "1"), JSON bodies as true.
    return body.get(key) in (True, 1, "1", "true")


def _content(body: JsonDict) -> JsonDict:
    return {key: copy.deepcopy(body[key]) for key in _CONTENT_FIELDS if body.get(key) is not None}


def _limit(body: JsonDict) -> int:
    try:
        return int(body.get("limit") or _DEFAULT_PAGE)
    except ValueError:
        raise MethodError("invalid_limit") from None


def _ts_value(ts: object, default: Decimal) -> Decimal:
    # Decimal, not float: "1700000000.000100" has more digits than a float keeps exactly.
    if ts in (None, ""):
        return default
    try:
        return Decimal(str(ts))
    except InvalidOperation:
        raise MethodError("invalid_ts_latest") from None


def _page(ws: Workspace, channel: str, messages: list[JsonDict], body: JsonDict) -> JsonDict:
    limit = _limit(body)
    return {
        "messages": [ws.listed_message(channel, m) for m in messages[:limit]],
        "has_more": len(messages) > limit,
        "response_metadata": {"next_cursor": ""},
    }


# auth / api ----------------------------------------------------------------------------------


def api_test(ws: Workspace, body: JsonDict) -> JsonDict:
    """api.test: echoes the arguments."""
    return {"args": body}


def auth_test(ws: Workspace, body: JsonDict) -> JsonDict:
    """auth.test: who the bot token belongs to (slack_bolt calls this when an App starts)."""
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": "chaosbot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


# chat ----------------------------------------------------------------------------------------


def chat_post_message(ws: Workspace, body: JsonDict) -> JsonDict:
    """chat.postMessage: stores the message (a thread reply when thread_ts is set)."""
    channel = ws.resolve_channel(body.get("channel"))
    content = _content(body)
    if not any(content.get(key) for key in ("text", "blocks", "attachments")):
        raise MethodError("no_text")
    message = ws.post(channel, content)
    return {"channel": channel, "ts": message["ts"], "message": message}


def chat_update(ws: Workspace, body: JsonDict) -> JsonDict:
    """chat.update: replaces the content of a stored message."""
    channel = ws.resolve_channel(body.get("channel"))
    message = ws.find_message(channel, body.get("ts"))
    message.update({k: v for k, v in _content(body).items() if k != "thread_ts"})
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    shown = copy.deepcopy(message)
    return {"channel": channel, "ts": message["ts"], "text": shown["text"], "message": shown}


def chat_delete(ws: Workspace, body: JsonDict) -> JsonDict:
    """chat.delete: removes a stored message."""
    channel = ws.resolve_channel(body.get("channel"))
    ws.delete_message(channel, body.get("ts"))
    return {"channel": channel, "ts": body["ts"]}


def chat_post_ephemeral(ws: Workspace, body: JsonDict) -> JsonDict:
    """chat.postEphemeral: stores the message under ephemerals, with its recipient as "user"."""
    channel = ws.resolve_channel(body.get("channel"))
    ws.user(_required(body, "user", "user_not_found"))
    ts = ws.next_ts()
    ws.ephemerals.setdefault(channel, []).append(
        {"type": "message", **_content(body), "user": body["user"], "ts": ts}
    )
    return {"message_ts": ts}


def chat_get_permalink(ws: Workspace, body: JsonDict) -> JsonDict:
    """chat.getPermalink: a link to a stored message."""
    channel = ws.resolve_channel(body.get("channel"))
    ts = ws.find_message(channel, body.get("message_ts"))["ts"]
    link = f"https://{ws.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return {"channel": channel, "permalink": link}


# views ---------------------------------------------------------------------------------------


def _view_spec(body: JsonDict, view_type: str) -> JsonDict:
    view = body.get("view")
    if not isinstance(view, dict) or view.get("type", view_type) != view_type:
        raise MethodError("invalid_arguments")
    return view


def _check_trigger(ws: Workspace, body: JsonDict) -> None:
    trigger_id = body.get("trigger_id")
    if not trigger_id:
        raise MethodError("invalid_trigger_id")
    if trigger_id in ws.expired_triggers:
        raise MethodError("expired_trigger_id")


def _store_view(
    ws: Workspace, spec: JsonDict, *, current: JsonDict | None = None, view_type: str = "modal"
) -> JsonDict:
    spec = copy.deepcopy(spec)  # the recorded request body must not share objects with the view
    view_id = current["id"] if current else ws.new_id("V")
    external_id = spec.get("external_id", current["external_id"] if current else "")
    if external_id and any(
        v["external_id"] == external_id and v["id"] != view_id for v in ws.views.values()
    ):
        raise MethodError("duplicate_external_id")
    view: JsonDict = {
        "id": view_id,
        "team_id": ws.team_id,
        "type": view_type,
        "title": spec.get("title"),
        "blocks": spec.get("blocks", []),
        "close": spec.get("close"),
        "submit": spec.get("submit"),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "external_id": external_id,
        "state": {"values": {}},
        "hash": ws.new_hash(),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "previous_view_id": current["previous_view_id"] if current else None,
        "root_view_id": current["root_view_id"] if current else view_id,
        "app_id": ws.app_id,
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    ws.views[view_id] = view
    return copy.deepcopy(view)


def _check_hash(body: JsonDict, current: JsonDict) -> None:
    if body.get("hash") and body["hash"] != current["hash"]:
        raise MethodError("hash_conflict")


def views_open(ws: Workspace, body: JsonDict) -> JsonDict:
    """views.open: opens a modal; needs a trigger_id that has not been expired."""
    _check_trigger(ws, body)
    return {"view": _store_view(ws, _view_spec(body, "modal"))}


def views_push(ws: Workspace, body: JsonDict) -> JsonDict:
    """views.push: pushes a modal onto the stack; like views.open it needs a trigger_id."""
    _check_trigger(ws, body)
    return {"view": _store_view(ws, _view_spec(body, "modal"))}


def views_update(ws: Workspace, body: JsonDict) -> JsonDict:
    """views.update: replaces a view found by view_id or external_id, guarded by its hash."""
    if body.get("view_id"):
        current = ws.views.get(body["view_id"])
    elif body.get("external_id"):
        matches = (v for v in ws.views.values() if v["external_id"] == body["external_id"])
        current = next(matches, None)
    else:
        raise MethodError("invalid_arguments")
    if current is None:
        raise MethodError("not_found")
    _check_hash(body, current)
    spec = _view_spec(body, current["type"])
    return {"view": _store_view(ws, spec, current=current, view_type=current["type"])}


def views_publish(ws: Workspace, body: JsonDict) -> JsonDict:
    """views.publish: sets a user's App Home; the view keeps its id across publishes."""
    user_id = _required(body, "user_id", "user_not_found")
    ws.user(user_id)
    current = ws.views.get(ws.homes.get(user_id, ""))
    if current is not None:
        _check_hash(body, current)
    view = _store_view(ws, _view_spec(body, "home"), current=current, view_type="home")
    ws.homes[user_id] = view["id"]
    return {"view": view}


# users and conversations ---------------------------------------------------------------------


def users_info(ws: Workspace, body: JsonDict) -> JsonDict:
    """users.info: any "U..." id has a profile unless configured as missing."""
    return {"user": ws.user(_required(body, "user", "user_not_found"))}


def users_lookup_by_email(ws: Workspace, body: JsonDict) -> JsonDict:
    """users.lookupByEmail: finds a configured user by email."""
    return {"user": ws.user_by_email(_required(body, "email", "users_not_found"))}


def conversations_info(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.info: the channel object."""
    return {"channel": ws.channel(_required(body, "channel", "channel_not_found"))}


def conversations_open(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.open: the DM channel ("D...") with one user, or a group DM with several."""
    if body.get("channel"):
        return {"channel": ws.channel(str(body["channel"]))}
    users = sorted({u for u in str(body.get("users") or "").split(",") if u})
    if not users:
        raise MethodError("users_list_not_supplied")
    for user_id in users:
        ws.user(user_id)
    if len(users) == 1:
        channel_id = ws.im_id(users[0])
    else:
        channel_id = ws.mpims.setdefault(frozenset(users), ws.new_id("G"))
    channel = ws.channel(channel_id) if _flag(body, "return_im") else {"id": channel_id}
    return {"no_op": False, "already_open": False, "channel": channel}


def conversations_join(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.join: the bot becomes a member of the channel."""
    channel = ws.resolve_channel(body.get("channel"))
    ws.joined.add(channel)
    return {"channel": ws.channel(channel)}


def conversations_members(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.members: the member ids, in one page."""
    channel = ws.resolve_channel(body.get("channel"))
    return {"members": ws.members(channel), "response_metadata": {"next_cursor": ""}}


def conversations_history(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.history: top-level messages, newest first, within oldest/latest."""
    channel = ws.resolve_channel(body.get("channel"))
    oldest = _ts_value(body.get("oldest"), Decimal(0))
    latest = _ts_value(body.get("latest"), Decimal("Infinity"))
    inclusive = _flag(body, "inclusive")

    def shown(message: JsonDict) -> bool:
        is_reply = message.get("thread_ts", message["ts"]) != message["ts"]
        ts = Decimal(message["ts"])
        within = oldest <= ts <= latest if inclusive else oldest < ts < latest
        return within and not is_reply

    newest_first = [m for m in reversed(ws.messages.get(channel, [])) if shown(m)]
    return {**_page(ws, channel, newest_first, body), "pin_count": 0}


def conversations_replies(ws: Workspace, body: JsonDict) -> JsonDict:
    """conversations.replies: a thread's parent followed by its replies, oldest first."""
    channel = ws.resolve_channel(body.get("channel"))
    try:
        parent = ws.find_message(channel, body.get("ts"))
    except MethodError:
        raise MethodError("thread_not_found") from None
    return _page(ws, channel, [parent, *ws.thread(channel, parent["ts"])], body)


def reactions_add(ws: Workspace, body: JsonDict) -> JsonDict:
    """reactions.add: the bot adds an emoji reaction to a stored message."""
    channel = ws.resolve_channel(body.get("channel"))
    message = ws.find_message(channel, body.get("timestamp"))
    name = _required(body, "name", "invalid_name")
    reactions: list[JsonDict] = message.setdefault("reactions", [])
    reaction = next((r for r in reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if ws.bot_user_id in reaction["users"]:
        raise MethodError("already_reacted")
    reaction["users"].append(ws.bot_user_id)
    reaction["count"] += 1
    return {}


# files ---------------------------------------------------------------------------------------


def files_get_upload_url_external(ws: Workspace, body: JsonDict) -> JsonDict:
    """files.getUploadURLExternal: reserves a file id and an upload URL on this server."""
    filename = _required(body, "filename")
    try:
        length = int(_required(body, "length"))
    except ValueError:
        raise MethodError("invalid_arguments") from None
    upload = Upload(file_id=ws.new_id("F"), filename=filename, length=length)
    ws.uploads[upload.file_id] = upload
    return {"upload_url": f"{ws.server_root}/upload/{upload.file_id}", "file_id": upload.file_id}


def _file_object(ws: Workspace, upload: Upload) -> JsonDict:
    name = upload.filename
    return {
        "id": upload.file_id,
        "created": 1_700_000_000,
        "timestamp": 1_700_000_000,
        "name": name,
        "title": upload.title,
        "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
        "user": ws.bot_user_id,
        "size": len(upload.data),
        "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{upload.file_id}/{name}",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{ws.bot_user_id}/{upload.file_id}",
        "channels": list(upload.channels),
    }


def files_complete_upload_external(ws: Workspace, body: JsonDict) -> JsonDict:
    """files.completeUploadExternal: titles the uploaded files and shares them to channels."""
    items = body.get("files")
    if not isinstance(items, list) or not items:
        raise MethodError("invalid_arguments")
    targets = str(body.get("channels") or body.get("channel_id") or "").split(",")
    channels = [ws.resolve_channel(c) for c in targets if c]
    uploads: list[Upload] = []
    for item in items:
        upload = ws.uploads.get(item.get("id", "")) if isinstance(item, dict) else None
        if upload is None:
            raise MethodError("file_not_found")
        upload.title = item.get("title") or upload.filename
        uploads.append(upload)
    for upload in uploads:
        upload.channels = channels
        upload.initial_comment = body.get("initial_comment")
        upload.thread_ts = body.get("thread_ts")
        upload.completed = True
    files = [_file_object(ws, upload) for upload in uploads]
    # Slack shares the files as one message, which then shows in conversations.history.
    share = {"text": body.get("initial_comment") or "", "files": files, "upload": True}
    if body.get("thread_ts"):
        share["thread_ts"] = body["thread_ts"]
    for channel in channels:
        ws.post(channel, share)
    return {"files": files}


# response_url --------------------------------------------------------------------------------


def apply_response(ws: Workspace, target: ResponseTarget, body: JsonDict) -> None:
    """Change the workspace as Slack does when the app posts `body` to a response_url."""
    channel = target.channel
    if channel is None:
        return
    content = _content(body)
    # A reply about a message that is not stored (e.g. an ephemeral one) changes nothing.
    with suppress(MethodError):
        if target.message_ts and _flag(body, "delete_original"):
            ws.delete_message(channel, target.message_ts)
        elif target.message_ts and _flag(body, "replace_original"):
            content.pop("thread_ts", None)
            ws.find_message(channel, target.message_ts).update(content)
        elif body.get("response_type") == "in_channel":
            ws.post(channel, content)
        else:
            ws.ephemerals.setdefault(channel, []).append(
                {"type": "message", **content, "user": target.user_id, "ts": ws.next_ts()}
            )


METHODS: Mapping[str, Method] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.join": conversations_join,
    "conversations.members": conversations_members,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "reactions.add": reactions_add,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
"""Every Web API method the server answers; any other name gets unknown_method."""
