"""The two kinds of user-facing error: `bench` prints their one-line message and exits with code 2."""


class DataError(ValueError):
    """A problem with the input data; the message names the file and the fix."""


class UsageError(ValueError):
    """Bad command-line input; the message says what to type instead."""


class ScorerError(RuntimeError):
    """A scorer crashed; the message names the method and the split, and says which results were kept."""


class NotApplicable(ScorerError):
    """No method of a run can read what its embedder gives (logits from an embedder without a classifier)."""


class SweepError(RuntimeError):
    """Steps of a sweep failed; the message counts them and says where their logs are."""
