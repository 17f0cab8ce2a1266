"""The team's own alerts: those Alertmanager delivers to chaosbot, and the gate that asks it."""
