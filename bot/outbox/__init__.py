"""The outbox table: calls to an outside API written in the transaction of the change they
announce, and delivered later by a sender (Slack's is bot/slack/outbox.py)."""
