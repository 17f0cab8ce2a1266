"""chaosbot: a self-hosted, Slack-native chaos-engineering platform."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
