"""Tests of bot.testing.slack.api.SlackApiServer, driven by the real slack_sdk WebClient.

The last section runs a real slack_bolt App (over WSGI) between the server and SlackSimulator,
the way the bot's own tests and the offline demo use them together.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, BoltContext, Respond, Say
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.testing.slack.api import ApiCall, ChannelInfo, SlackApiServer, UserProfile
from bot.testing.slack.requests import SlackSimulator

DIVIDER = {"type": "divider"}
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Pod kill* on `checkout`"}}]
MODAL = {
    "type": "modal",
    "callback_id": "experiment",
    "title": {"type": "plain_text", "text": "New experiment"},
    "blocks": BLOCKS,
}


@pytest.fixture
def client(slack_api: SlackApiServer) -> WebClient:
    """The bot's real WebClient, pointed at the test server."""
    return WebClient(token=slack_api.bot_token, base_url=slack_api.base_url, timeout=5)


def api_error(call: Any) -> SlackApiError:
    """The SlackApiError a WebClient call raises (failing the test if it does not)."""
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def raw_post(url: str, body: bytes, content_type: str, token: str | None = None) -> dict[str, Any]:
    """POST a body exactly as given (for encodings WebClient would never produce)."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        decoded: dict[str, Any] = json.load(answer)
        return decoded


# Lifecycle and auth --------------------------------------------------------------------------


def test_base_url_points_at_a_local_port_that_closes_on_stop() -> None:
    with SlackApiServer() as api:
        assert api.base_url.startswith("http://127.0.0.1:")
        assert api.base_url.endswith("/api/")
        port = int(api.base_url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        with pytest.raises(RuntimeError, match="already started"):
            api.start()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass
    with pytest.raises(RuntimeError, match="not started"):
        _ = api.base_url


def test_auth_test_says_who_the_bot_is(slack_api: SlackApiServer, client: WebClient) -> None:
    answer = client.auth_test()

    assert answer["user_id"] == "UBOT"
    assert answer["team_id"] == "T0001"
    assert answer["bot_id"]
    assert answer["url"].startswith("https://")
    (call,) = slack_api.calls
    assert (call.method, call.token, call.status, call.ok) == (
        "auth.test",
        "xoxb-test-token",
        200,
        True,
    )


def test_custom_identity() -> None:
    with SlackApiServer(bot_token="xoxb-other", bot_user_id="U0BOT", team_id="T9") as api:
        answer = WebClient(token="xoxb-other", base_url=api.base_url).auth_test()
        assert (answer["user_id"], answer["team_id"]) == ("U0BOT", "T9")


def test_wrong_token_is_invalid_auth_and_no_token_is_not_authed(slack_api: SlackApiServer) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack_api.base_url)
    missing = WebClient(base_url=slack_api.base_url)

    assert api_error(wrong.auth_test).response["error"] == "invalid_auth"
    assert api_error(missing.auth_test).response["error"] == "not_authed"
    assert api_error(wrong.auth_test).response.status_code == 200
    assert [c.token for c in slack_api.calls] == ["xoxb-wrong", None, "xoxb-wrong"]
    assert [c.error for c in slack_api.calls] == ["invalid_auth", "not_authed", "invalid_auth"]


def test_token_in_a_form_field_and_get_with_a_query_string(slack_api: SlackApiServer) -> None:
    posted = raw_post(
        slack_api.base_url + "chat.postMessage",
        b"token=xoxb-test-token&channel=C1&text=hi",
        "application/x-www-form-urlencoded",
    )
    url = slack_api.base_url + "users.info?token=xoxb-test-token&user=U42"
    with urllib.request.urlopen(url, timeout=5) as answer:
        got = json.load(answer)

    assert posted["ok"] is True
    assert got["ok"] is True
    assert got["user"]["id"] == "U42"
    assert slack_api.calls_to("users.info")[0].body == {"token": "xoxb-test-token", "user": "U42"}


def test_unknown_method(client: WebClient) -> None:
    assert api_error(lambda: client.api_call("chat.teleport")).response["error"] == "unknown_method"


def test_bodies_that_cannot_be_decoded_are_refused(slack_api: SlackApiServer) -> None:
    url = slack_api.base_url + "chat.postMessage"
    token = slack_api.bot_token

    assert raw_post(url, b"{not json", "application/json", token)["error"] == "invalid_json"
    assert raw_post(url, b"[1, 2]", "application/json", token)["error"] == "invalid_json"
    multipart = raw_post(url, b"--x\r\n", "multipart/form-data; boundary=x", token)
    assert multipart["error"] == "invalid_form_data"
    assert [c.body for c in slack_api.calls] == [{}, {}, {}]


# chat ----------------------------------------------------------------------------------------


def test_post_message_stores_it_with_increasing_unique_ts(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    first = client.chat_postMessage(channel="C1", text="starting", blocks=BLOCKS)
    second = client.chat_postMessage(channel="C1", text="done")

    assert first["channel"] == "C1"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["text"] == "starting"
    assert first["message"]["user"] == "UBOT"
    # slack_sdk sends chat.postMessage as JSON; the recorded body holds the real list.
    assert slack_api.calls_to("chat.postMessage")[0].body["blocks"] == BLOCKS
    assert [(m["ts"], m["text"]) for m in slack_api.messages("C1")] == [
        (first["ts"], "starting"),
        (second["ts"], "done"),
    ]
    assert slack_api.message("C1", first["ts"])["blocks"] == BLOCKS  # type: ignore[index]
    assert slack_api.message("C1", "1.2") is None


def test_form_encoded_json_fields_are_decoded(slack_api: SlackApiServer, client: WebClient) -> None:
    client.api_call(
        "chat.postMessage",
        params={"channel": "C1", "blocks": json.dumps(BLOCKS), "attachments": "[]"},
    )
    client.api_call("views.open", params={"trigger_id": "T.1", "view": json.dumps(MODAL)})

    message_call, view_call = slack_api.calls
    assert message_call.ok
    assert message_call.body["blocks"] == BLOCKS
    assert message_call.body["attachments"] == []
    assert view_call.ok
    assert view_call.body["view"] == MODAL


def test_post_message_needs_content(client: WebClient) -> None:
    # slack_sdk warns about the missing text before sending; Slack then refuses the message.
    with pytest.warns(UserWarning, match="text"):
        error = api_error(lambda: client.chat_postMessage(channel="C1"))
    assert error.response["error"] == "no_text"


def test_channels_are_found_unless_configured_missing() -> None:
    channels: dict[str, ChannelInfo] = {"C0OPS": {"name": "ops"}}
    with SlackApiServer(channels=channels, missing_channels={"C0GONE"}) as api:
        client = WebClient(token=api.bot_token, base_url=api.base_url)

        assert client.chat_postMessage(channel="CANYTHING", text="x")["channel"] == "CANYTHING"
        assert client.chat_postMessage(channel="#ops", text="x")["channel"] == "C0OPS"
        assert client.chat_postMessage(channel="U1", text="x")["channel"] == "D1"
        for missing in ("C0GONE", "#nope", "not-an-id"):
            error = api_error(lambda m=missing: client.chat_postMessage(channel=m, text="x"))
            assert error.response["error"] == "channel_not_found"
        assert api.messages("C0GONE") == []


def test_threads_history_and_replies(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="run 7 started")["ts"]
    reply = client.chat_postMessage(channel="C1", text="step 1 ok", thread_ts=parent)["ts"]
    later = client.chat_postMessage(channel="C1", text="unrelated")["ts"]
    client.chat_postMessage(channel="C2", text="elsewhere")

    history = client.conversations_history(channel="C1")["messages"]
    assert [m["ts"] for m in history] == [later, parent]
    assert history[1]["reply_count"] == 1
    assert history[1]["reply_users"] == ["UBOT"]

    replies = client.conversations_replies(channel="C1", ts=parent)["messages"]
    assert [(m["ts"], m["text"]) for m in replies] == [
        (parent, "run 7 started"),
        (reply, "step 1 ok"),
    ]
    assert replies[1]["thread_ts"] == parent

    limited = client.conversations_history(channel="C1", limit=1)
    assert [m["ts"] for m in limited["messages"]] == [later]
    assert limited["has_more"] is True
    assert [
        m["ts"] for m in client.conversations_history(channel="C1", oldest=parent)["messages"]
    ] == [later]
    error = api_error(lambda: client.conversations_replies(channel="C1", ts="1.000001"))
    assert error.response["error"] == "thread_not_found"


def test_update_delete_and_permalink(slack_api: SlackApiServer, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="running", blocks=BLOCKS)["ts"]

    updated = client.chat_update(channel="C1", ts=ts, text="finished")
    assert (updated["ts"], updated["text"], updated["message"]["text"]) == (
        ts,
        "finished",
        "finished",
    )
    assert slack_api.message("C1", ts)["text"] == "finished"  # type: ignore[index]
    assert slack_api.message("C1", ts)["blocks"] == BLOCKS  # type: ignore[index]

    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link.endswith("/archives/C1/p" + ts.replace(".", ""))

    assert client.chat_delete(channel="C1", ts=ts)["ts"] == ts
    assert slack_api.messages("C1") == []
    for call in (
        lambda: client.chat_update(channel="C1", ts=ts, text="again"),
        lambda: client.chat_delete(channel="C1", ts=ts),
        lambda: client.chat_getPermalink(channel="C1", message_ts=ts),
    ):
        assert api_error(call).response["error"] == "message_not_found"


def test_post_ephemeral(slack_api: SlackApiServer, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C1", user="U1", text="only you")

    assert answer["message_ts"]
    (shown,) = slack_api.ephemerals("C1")
    assert (shown["user"], shown["text"], shown["ts"]) == ("U1", "only you", answer["message_ts"])
    assert slack_api.messages("C1") == []


def test_reactions_add(slack_api: SlackApiServer, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="x")["ts"]

    client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark")

    reactions = slack_api.message("C1", ts)["reactions"]  # type: ignore[index]
    assert reactions == [{"name": "white_check_mark", "users": ["UBOT"], "count": 1}]
    again = api_error(
        lambda: client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark")
    )
    assert again.response["error"] == "already_reacted"
    unknown = api_error(lambda: client.reactions_add(channel="C1", timestamp="1.1", name="x"))
    assert unknown.response["error"] == "message_not_found"


# views ---------------------------------------------------------------------------------------


def test_views_open_push_and_update(slack_api: SlackApiServer, client: WebClient) -> None:
    opened = client.views_open(trigger_id="123.456.abc", view={**MODAL, "external_id": "run-7"})[
        "view"
    ]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "experiment"
    assert opened["hash"]
    assert opened["root_view_id"] == opened["id"]

    pushed = client.views_push(trigger_id="123.456.def", view=MODAL)["view"]
    assert pushed["id"] not in (opened["id"], None)

    by_id = client.views_update(
        view_id=opened["id"], view={**MODAL, "blocks": [DIVIDER]}, hash=opened["hash"]
    )
    assert by_id["view"]["id"] == opened["id"]
    assert by_id["view"]["hash"] != opened["hash"]
    assert slack_api.views[opened["id"]]["blocks"] == [DIVIDER]

    stale = api_error(
        lambda: client.views_update(view_id=opened["id"], view=MODAL, hash=opened["hash"])
    )
    assert stale.response["error"] == "hash_conflict"

    by_external = client.views_update(external_id="run-7", view={**MODAL, "private_metadata": "m"})
    assert by_external["view"]["id"] == opened["id"]
    assert slack_api.views[opened["id"]]["private_metadata"] == "m"

    unknown = api_error(lambda: client.views_update(view_id="V404", view=MODAL))
    assert unknown.response["error"] == "not_found"
    assert set(slack_api.views) == {opened["id"], pushed["id"]}


def test_views_open_trigger_ids(slack_api: SlackApiServer, client: WebClient) -> None:
    slack_api.expire_trigger("old.trigger")

    missing = api_error(lambda: client.views_open(trigger_id="", view=MODAL))
    expired = api_error(lambda: client.views_open(trigger_id="old.trigger", view=MODAL))
    expired_push = api_error(lambda: client.views_push(trigger_id="old.trigger", view=MODAL))

    assert missing.response["error"] == "invalid_trigger_id"
    assert expired.response["error"] == "expired_trigger_id"
    assert expired_push.response["error"] == "expired_trigger_id"
    assert client.views_open(trigger_id="fresh.trigger", view=MODAL)["ok"] is True
    assert len(slack_api.views) == 1


def test_views_publish_sets_each_users_app_home(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    home = {"type": "home", "blocks": BLOCKS}

    first = client.views_publish(user_id="U1", view=home)["view"]
    second = client.views_publish(user_id="U1", view={"type": "home", "blocks": [DIVIDER]})["view"]
    client.views_publish(user_id="U2", view=home)

    assert first["type"] == "home"
    assert second["id"] == first["id"]
    assert slack_api.home("U1")["blocks"] == [DIVIDER]  # type: ignore[index]
    assert slack_api.home("U2")["blocks"] == BLOCKS  # type: ignore[index]
    assert slack_api.home("U3") is None
    stale = api_error(lambda: client.views_publish(user_id="U1", view=home, hash=first["hash"]))
    assert stale.response["error"] == "hash_conflict"


# users and conversations ---------------------------------------------------------------------


def test_users_info_and_lookup_by_email() -> None:
    users: dict[str, UserProfile] = {
        "U1": {
            "name": "alice",
            "real_name": "Alice A",
            "tz": "Europe/Berlin",
            "tz_offset": 3600,
            "is_admin": True,
        },
    }
    with SlackApiServer(users=users, missing_users={"U0GONE"}) as api:
        client = WebClient(token=api.bot_token, base_url=api.base_url)

        alice = client.users_info(user="U1")["user"]
        assert (
            alice["name"],
            alice["real_name"],
            alice["tz"],
            alice["tz_offset"],
            alice["is_admin"],
        ) == (
            "alice",
            "Alice A",
            "Europe/Berlin",
            3600,
            True,
        )
        stranger = client.users_info(user="U777")["user"]
        assert stranger["id"] == "U777"
        assert (stranger["tz"], stranger["tz_offset"], stranger["is_admin"]) == ("UTC", 0, False)
        assert client.users_info(user="UBOT")["user"]["is_bot"] is True
        gone = api_error(lambda: client.users_info(user="U0GONE"))
        assert gone.response["error"] == "user_not_found"

        assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == "U1"
        nobody = api_error(lambda: client.users_lookupByEmail(email="mallory@example.com"))
        assert nobody.response["error"] == "users_not_found"
        assert api.user("U0GONE") is None


def test_conversations_info_open_join_and_members() -> None:
    channels: dict[str, ChannelInfo] = {"C1": {"name": "ops", "members": ["U1", "U2"]}}
    with SlackApiServer(channels=channels) as api:
        client = WebClient(token=api.bot_token, base_url=api.base_url)

        info = client.conversations_info(channel="C1")["channel"]
        assert (info["name"], info["is_channel"], info["is_member"]) == ("ops", True, False)

        joined = client.conversations_join(channel="C1")["channel"]
        assert joined["is_member"] is True
        assert client.conversations_members(channel="C1")["members"] == ["U1", "U2", "UBOT"]

        dm = client.conversations_open(users="U1")["channel"]["id"]
        assert dm.startswith("D")
        assert client.conversations_open(users=["U1"])["channel"]["id"] == dm
        assert client.conversations_info(channel=dm)["channel"]["is_im"] is True
        posted = client.chat_postMessage(channel=dm, text="hello")
        assert api.messages(dm)[0]["ts"] == posted["ts"]

        group = client.conversations_open(users=["U1", "U2"])["channel"]["id"]
        assert group.startswith("G")
        assert client.conversations_open(users=["U2", "U1"])["channel"]["id"] == group


# files ---------------------------------------------------------------------------------------


def test_files_upload_v2_end_to_end(slack_api: SlackApiServer, client: WebClient) -> None:
    answer = client.files_upload_v2(
        channel="C1",
        content=b"pod,status\ncheckout-1,Killed\n",
        filename="report.csv",
        title="Run 7 report",
        initial_comment="Here is the report",
    )

    assert answer["file"]["title"] == "Run 7 report"
    assert answer["file"]["name"] == "report.csv"
    (upload,) = slack_api.uploads
    assert upload.data == b"pod,status\ncheckout-1,Killed\n"
    assert (upload.title, upload.filename, upload.channel) == ("Run 7 report", "report.csv", "C1")
    assert upload.initial_comment == "Here is the report"
    assert [c.method for c in slack_api.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    (shared,) = slack_api.messages("C1")
    assert shared["text"] == "Here is the report"
    assert shared["files"][0]["id"] == upload.file_id


def test_completing_an_unknown_upload_fails(client: WebClient) -> None:
    error = api_error(
        lambda: client.files_completeUploadExternal(files=[{"id": "F404", "title": "x"}])
    )
    assert error.response["error"] == "file_not_found"


# Fault injection -----------------------------------------------------------------------------


def test_rate_limit_is_retried_by_the_sdk_rate_limit_handler(slack_api: SlackApiServer) -> None:
    retrying = WebClient(
        token=slack_api.bot_token,
        base_url=slack_api.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack_api.fail_next("chat.postMessage", retry_after=0)

    answer = retrying.chat_postMessage(channel="C1", text="after the storm")

    assert answer["ok"] is True
    limited, succeeded = slack_api.calls_to("chat.postMessage")
    assert (limited.status, limited.error) == (429, "ratelimited")
    assert succeeded.ok
    assert [m["text"] for m in slack_api.messages("C1")] == ["after the storm"]


def test_rate_limit_without_a_handler_surfaces_429_and_retry_after(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    slack_api.fail_next("chat.postMessage", retry_after=7)

    error = api_error(lambda: client.chat_postMessage(channel="C1", text="x"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True

    slack_api.fail_next("chat.postMessage")  # Slack always says how long to back off
    default = api_error(lambda: client.chat_postMessage(channel="C1", text="x"))
    assert (default.response.status_code, default.response.headers["Retry-After"]) == (429, "1")


def test_failures_are_consumed_in_order_and_per_method(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    slack_api.fail_next("chat.postMessage", error="channel_not_found", times=2)
    slack_api.fail_next("chat.postMessage", error="internal_error")

    errors = [api_error(lambda: client.chat_postMessage(channel="C1", text="x")) for _ in range(3)]

    assert [(e.response.status_code, e.response["error"]) for e in errors] == [
        (200, "channel_not_found"),
        (200, "channel_not_found"),
        (200, "internal_error"),
    ]
    assert client.auth_test()["ok"] is True  # other methods were never affected
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True


def test_outage_status_and_server_error_retries(slack_api: SlackApiServer) -> None:
    plain = WebClient(token=slack_api.bot_token, base_url=slack_api.base_url)
    retrying = WebClient(
        token=slack_api.bot_token,
        base_url=slack_api.base_url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )
    slack_api.fail_next("conversations.history", error="service_unavailable", status=503)
    outage = api_error(lambda: plain.conversations_history(channel="C1"))
    assert outage.response.status_code == 503

    slack_api.fail_next("conversations.history", error="internal_error", status=500)
    assert retrying.conversations_history(channel="C1")["ok"] is True
    assert [c.status for c in slack_api.calls_to("conversations.history")] == [503, 500, 200]


# Recording and waiting -----------------------------------------------------------------------


def test_wait_for_blocks_until_calls_from_another_thread_arrive(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    def post_later() -> None:
        time.sleep(0.2)
        client.chat_postMessage(channel="C1", text="first")
        client.chat_postMessage(channel="C2", text="second")

    worker = threading.Thread(target=post_later)
    started = time.monotonic()
    worker.start()

    calls = slack_api.wait_for("chat.postMessage", count=2, timeout=5)
    in_c2 = slack_api.wait_for("chat.postMessage", where=lambda c: c.body["channel"] == "C2")
    worker.join()

    assert time.monotonic() - started >= 0.2
    assert [c.body["text"] for c in calls] == ["first", "second"]
    assert [c.body["text"] for c in in_c2] == ["second"]
    # Calls are recorded once answered, so the state they changed is already visible.
    assert slack_api.messages("C2")[0]["text"] == "second"


def test_wait_for_times_out_naming_what_it_saw(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    client.auth_test()
    client.chat_postMessage(channel="C1", text="x")

    with pytest.raises(AssertionError, match=r"2 call\(s\) to chat\.postMessage") as raised:
        slack_api.wait_for("chat.postMessage", count=2, timeout=0.2)

    assert "auth.test(ok)" in str(raised.value)
    assert "chat.postMessage(ok)" in str(raised.value)


def test_calls_record_method_body_token_and_time(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    before = time.time()
    client.chat_postMessage(channel="C1", text="x")

    (call,) = slack_api.calls
    assert isinstance(call, ApiCall)
    assert call.method == "chat.postMessage"
    assert call.body == {"channel": "C1", "text": "x"}
    assert call.token == "xoxb-test-token"
    assert before <= call.at <= time.time()
    assert call.response["ts"] == slack_api.messages("C1")[0]["ts"]


def test_clear_forgets_calls_but_keeps_the_workspace(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    client.chat_postMessage(channel="C1", text="kept")
    WebhookClient(slack_api.response_url()).send(text="x")

    slack_api.clear()

    assert slack_api.calls == []
    assert slack_api.responses == []
    assert [m["text"] for m in slack_api.messages("C1")] == ["kept"]


def test_concurrent_calls_get_unique_timestamps(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    def post(index: int) -> None:
        client.chat_postMessage(channel="C1", text=str(index))

    workers = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    stamps = [m["ts"] for m in slack_api.messages("C1")]
    assert len(set(stamps)) == 20
    assert stamps == sorted(stamps)
    assert len(slack_api.wait_for("chat.postMessage", count=20, timeout=1)) == 20


# response_url --------------------------------------------------------------------------------


def test_response_url_posts_are_recorded(slack_api: SlackApiServer) -> None:
    url = slack_api.response_url("abc")
    assert url == slack_api.root_url + "/response/abc"

    answer = WebhookClient(url).send(text="on it", response_type="ephemeral")

    assert answer.status_code == 200
    (response,) = slack_api.wait_for_response()
    assert response.response_id == "abc"
    assert response.body == {"text": "on it", "response_type": "ephemeral"}
    assert slack_api.response_url() != slack_api.response_url()


def test_response_url_replaces_deletes_or_adds_messages(
    slack_api: SlackApiServer, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel="C1", text="Approve?", blocks=BLOCKS)["ts"]
    for_message = WebhookClient(slack_api.response_url(channel="C1", message_ts=ts, user_id="U1"))
    for_channel = WebhookClient(slack_api.response_url(channel="C1", user_id="U1"))

    for_message.send(text="Approved", blocks=[], replace_original=True)
    assert slack_api.message("C1", ts)["text"] == "Approved"  # type: ignore[index]
    assert slack_api.message("C1", ts)["blocks"] == []  # type: ignore[index]

    for_channel.send(text="Run 7 started", response_type="in_channel")
    for_channel.send(text="only for U1")
    assert [m["text"] for m in slack_api.messages("C1")] == ["Approved", "Run 7 started"]
    assert [(m["user"], m["text"]) for m in slack_api.ephemerals("C1")] == [("U1", "only for U1")]

    for_message.send(delete_original=True)
    assert slack_api.message("C1", ts) is None
    assert len(slack_api.wait_for_response(count=4)) == 4


def test_response_url_needs_a_json_object(slack_api: SlackApiServer) -> None:
    request = urllib.request.Request(slack_api.response_url(), data=b"[1]", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    with pytest.raises(AssertionError, match="response_url post"):
        slack_api.wait_for_response(timeout=0.1)


# A real Bolt app between the server and the simulator ----------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's request handler without the access log."""

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, as Bolt's lazy listeners expect of a host."""

    daemon_threads = True


@pytest.fixture
def bolt_app(slack_api: SlackApiServer, signing_secret: str) -> App:
    """A Bolt app that verifies signatures and calls the test server, with a few listeners."""
    app = App(
        token=slack_api.bot_token,
        signing_secret=signing_secret,
        client=WebClient(token=slack_api.bot_token, base_url=slack_api.base_url),
    )

    @app.command("/chaos")
    def chaos(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        respond(text=f"planning {command['text']}")
        client.views_open(trigger_id=command["trigger_id"], view=MODAL)

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(text=f"Approved by <@{body['user']['id']}>", replace_original=True)

    @app.view("experiment")
    def submit(ack: Ack, view: dict[str, Any]) -> None:
        namespace = view["state"]["values"]["target"]["namespace"]["value"]
        ack(response_action="errors", errors={"target": f"{namespace} is not allowed"})

    @app.event("app_mention")
    def mention(event: dict[str, Any], say: Say, context: BoltContext) -> None:
        say(text=f"hello <@{event['user']}>, I am <@{context.bot_user_id}>")

    return app


@pytest.fixture
def bolt_simulator(
    bolt_app: App, slack_api: SlackApiServer, signing_secret: str
) -> Iterator[SlackSimulator]:
    """A SlackSimulator whose requests reach `bolt_app` over HTTP, through Bolt's WSGI adapter."""
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(bolt_app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield SlackSimulator(
        bot_url=f"http://127.0.0.1:{server.server_port}/slack/events",
        signing_secret=signing_secret,
        api=slack_api,
    )
    server.shutdown()
    server.server_close()
    thread.join()


def test_bolt_checks_the_token_with_auth_test(slack_api: SlackApiServer, bolt_app: App) -> None:
    (call,) = slack_api.calls_to("auth.test")
    assert call.ok
    assert call.token == "xoxb-test-token"


def test_bolt_slash_command_responds_and_opens_a_modal(
    bolt_simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    answer = bolt_simulator.slash_command("/chaos", "pod-kill", user_id="U1", channel_id="C1")

    assert answer.status == 200
    (response,) = slack_api.wait_for_response()
    assert response.body["text"] == "planning pod-kill"
    (opened,) = slack_api.wait_for("views.open")
    assert opened.ok
    assert [v["callback_id"] for v in slack_api.views.values()] == ["experiment"]


def test_bolt_button_click_replaces_the_message(
    bolt_simulator: SlackSimulator, slack_api: SlackApiServer, bolt_app: App
) -> None:
    button = {
        "type": "button",
        "action_id": "approve",
        "text": {"type": "plain_text", "text": "Go"},
    }
    blocks = [{"type": "actions", "block_id": "decide", "elements": [button]}]
    ts = bolt_app.client.chat_postMessage(channel="C1", text="Approve?", blocks=blocks)["ts"]

    answer = bolt_simulator.block_action("approve", user_id="U7", channel_id="C1")

    assert answer.status == 200
    slack_api.wait_for_response()
    assert slack_api.message("C1", ts)["text"] == "Approved by <@U7>"  # type: ignore[index]


def test_bolt_view_submission_answers_in_the_ack(
    bolt_simulator: SlackSimulator, slack_api: SlackApiServer, bolt_app: App
) -> None:
    view_id = bolt_app.client.views_open(trigger_id="T.1", view=MODAL)["view"]["id"]
    values = {"target": {"namespace": {"type": "plain_text_input", "value": "kube-system"}}}

    answer = bolt_simulator.view_submission(
        "experiment", values=values, user_id="U1", view_id=view_id
    )

    assert answer.status == 200
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"target": "kube-system is not allowed"},
    }


def test_bolt_event_and_url_verification(
    bolt_simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> hi",
        "channel": "C1",
        "ts": "1.000100",
    }

    assert bolt_simulator.event(event).status == 200
    (said,) = slack_api.wait_for("chat.postMessage")
    assert said.body["text"] == "hello <@U1>, I am <@UBOT>"
    assert said.body["channel"] == "C1"
    assert bolt_simulator.url_verification("xyz").json() == {"challenge": "xyz"}


def test_bolt_refuses_forged_and_stale_requests(
    bolt_simulator: SlackSimulator, slack_api: SlackApiServer
) -> None:
    forged = bolt_simulator.slash_command(
        "/chaos", "x", user_id="U1", channel_id="C1", forge_signature=True
    )
    stale = bolt_simulator.slash_command(
        "/chaos", "x", user_id="U1", channel_id="C1", timestamp=int(time.time()) - 360
    )

    assert (forged.status, stale.status) == (401, 401)
    with pytest.raises(AssertionError):
        slack_api.wait_for_response(timeout=0.3)
