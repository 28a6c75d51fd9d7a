"""ASD bench: the command line, the runner that ties data, embedders, scorers and the leaderboard together, and the speed benchmark."""
