import numpy as np

from core.errors import DataError
from core.plugins import PluginError
from methods.base import Bundle, Scorer
from methods.registry import register

HELD_OUT = 0.1  # of each section's training clips, scored to standardise a member


def _take(b: Bundle, rows: np.ndarray, name: str) -> Bundle:
    n = np.broadcast_to(np.asarray(b.n_classes), (len(b.embeddings),))[rows]
    return Bundle(b.embeddings[rows], b.logits[rows], np.asarray(b.first_class)[rows], name, n,
                  None if b.domain is None else b.domain[rows])


@register
class FusionScorer(Scorer):
    """Mean (or max) of member scorers' standardised scores; each member's mean and standard deviation come from
    its scores on held-out normal training clips (10 % of the section's, the member fitted on the rest), never from
    test clips. Members by name, joined by `+`: `fusion:members=knn+mahalanobis+gmm`."""

    name = "fusion"

    def __init__(self, members="knn+mahalanobis", combine="mean", seed=0, device="cpu"):
        super().__init__(device)
        if combine not in ("mean", "max"):
            raise ValueError(f"combine must be mean or max, not {combine!r}")
        self.members, self.combine, self.seed = members, combine, seed
        from methods.registry import available
        known = available()
        names = [m for m in str(members).split("+") if m]
        unknown = [m for m in names if m not in known or m == self.name]
        if unknown or not names:
            raise PluginError(f"fusion: unknown member {unknown[0] if unknown else '(none)'!r}; members are scorer "
                              f"names joined by +, from: {', '.join(n for n in known if n != self.name)}")
        self.names = names
        self.reads = tuple(sorted({f for n in names for f in known[n].reads}))

    def _members(self):
        from methods.registry import get_scorer
        return [get_scorer(n, self.device) for n in self.names]

    def min_train_clips(self) -> int:
        return max([m.min_train_clips() for m in self._members()] + [2]) + 1

    def fit(self, train: Bundle):
        rows = np.random.default_rng(self.seed).permutation(len(train.embeddings))
        cut = max(1, int(round(HELD_OUT * len(rows))))
        held, kept = rows[:cut], rows[cut:]
        self.fitted_, self.stats_ = [], []
        for member in self._members():
            probe = member.fit(_take(train, kept, f"{train.name} (90 % kept to standardise)"))
            s = probe.score(_take(train, held, f"{train.name} (held out to standardise)"))
            self.stats_.append((float(np.mean(s)), float(np.std(s)) or 1.0))
            self.fitted_.append(type(member)(device=self.device).fit(train))
        return self

    def score(self, test: Bundle) -> np.ndarray:
        z = np.stack([(m.score(test) - mu) / sd for m, (mu, sd) in zip(self.fitted_, self.stats_)])
        if not np.isfinite(z).all():
            raise DataError(f"{test.name}: a fusion member gave NaN or inf scores; check its embeddings")
        return z.mean(0) if self.combine == "mean" else z.max(0)
