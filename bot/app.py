"""Building the Bolt app from settings: client, verification, error handler, listeners."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.config import Settings
from bot.context import BotContext
from bot.errors import ChaosbotError
from bot.slack.commands import CommandRouter
from bot.slack.conversations import install as install_conversations
from bot.slack.errors import ErrorReporter
from bot.slack.listeners import home_tab, register_listeners

__all__ = ["SlackUnavailable", "build_app", "build_client"]


class SlackUnavailable(ChaosbotError):
    """Slack refused the bot token (or could not be reached) at start-up."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Slack did not accept SLACK_BOT_TOKEN: {reason}")


def build_client(settings: Settings) -> WebClient:
    """A WebClient for the bot token, pointed at SLACK_API_URL."""
    token, _ = settings.require_slack()
    return WebClient(
        token=token.reveal(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )


def build_app(
    settings: Settings,
    *,
    context: BotContext,
    client: WebClient | None = None,
    router: CommandRouter | None = None,
) -> App:
    """The Bolt app with every listener registered and the global error handler set.

    `router` lets a caller start from its own table of `/chaos` subcommands (tests do).
    """
    _, signing_secret = settings.require_slack()
    client = client or build_client(settings)
    install_conversations()
    _check_token(client, settings.slack_api_url)
    app = App(
        signing_secret=signing_secret.reveal() if signing_secret else None,
        client=client,  # carries the bot token
        # Checked above, with an error a person can read; Bolt's own check is redundant.
        token_verification_enabled=False,
        # Over HTTP every request is verified; Socket Mode is authenticated by the app token.
        request_verification_enabled=not settings.socket_mode,
        # The ack listener runs inline in the request thread and its answer goes back at once;
        # slow work is always a lazy listener, started in Bolt's pool after the ack. (With
        # False, Bolt polls for the ack every 10 ms from another thread: slower, no safer.)
        process_before_response=True,
    )
    router = router or CommandRouter()
    home = home_tab(router=router, context=context)
    # Buttons on the Home tab have no response_url: they are answered on the tab itself.
    reporter = ErrorReporter(home=home.publish)
    app.error(reporter.bolt_error_handler)
    register_listeners(app, reporter=reporter, router=router, context=context, home_tab=home)
    return app


def _check_token(client: WebClient, api_url: str) -> None:
    """Stop start-up with Slack's own error code when the bot token is not accepted."""
    try:
        client.auth_test()
    except SlackApiError as exc:
        raise SlackUnavailable(str(exc.response.get("error", "unknown error"))) from None
    except OSError as exc:
        raise SlackUnavailable(f"{api_url} is unreachable ({exc})") from None
