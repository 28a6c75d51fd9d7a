"""ASD bench: DCASE 2020 Task 2 data, the CLI and the runner that ties embeddings, scorers and the leaderboard together."""
