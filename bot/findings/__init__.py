"""What was learned from runs and drills, with its action items and their owners."""
