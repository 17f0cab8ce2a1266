"""Scheduling across bot replicas: which replica runs the game-day scheduler."""
