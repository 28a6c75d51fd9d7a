"""Rendering of stored results: the markdown leaderboard and its plots."""
