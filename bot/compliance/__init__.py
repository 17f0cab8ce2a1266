"""Compliance with the platform's policy per tier, and each service's resilience score."""
