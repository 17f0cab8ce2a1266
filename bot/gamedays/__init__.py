"""Game days: requested in Slack, approved by owners, run by the scheduler at the approved time."""
