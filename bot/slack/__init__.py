"""The Slack surface: listeners, ids, Block Kit, mrkdwn escaping and the outbox."""
