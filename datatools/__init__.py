"""Tools for data sets rather than for scoring: per-type log-mel statistics and the comparison of two data roots,
the generator's calibration against real clips, and a model-free baseline. They sit above `embeddings/` (they
use its log-mel front end) and below `bench/`."""
