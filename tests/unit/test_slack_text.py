from __future__ import annotations

from bot.slack.mrkdwn import escape
from bot.slack.templates import render


def test_escape_neutralises_mentions_and_links() -> None:
    assert escape("<!channel> & <http://x|y>") == "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"


def test_templates_escape_every_value() -> None:
    text = render("slack/unknown_command.md.j2", name="<!here>", suggestion="")
    assert "&lt;!here&gt;" in text
    assert "<!here>" not in text
