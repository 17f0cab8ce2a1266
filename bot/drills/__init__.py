"""Blind drills: disruptions at random moments inside a team's window, announced as incidents."""
