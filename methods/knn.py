"""The kNN family: distance to the nearest normal training embeddings, with a memory bank per domain and an
optional local-density normalisation. `kmeans_knn` and `smote_knn` change only what goes into the banks."""
import numpy as np

from core.errors import DataError
from methods.base import Bundle, Scorer
from methods.neighbors import flat_index
from methods.registry import register

COMBINE = ("min", "mean", "pooled")
NORMALIZE = (None, "ratio", "difference")


class Bank:
    """One memory bank: an exact index over its embeddings and, for density normalisation, a member's mean distance
    to its `density_k` nearest other members, computed for the members test clips find, once each."""

    def __init__(self, embeddings: np.ndarray, metric: str, device: str, name: str):
        self.members, self.size = embeddings, len(embeddings)
        self.index = flat_index(embeddings, metric, device, name=name)
        self.densities: dict[int, np.ndarray] = {}

    def density(self, density_k: int, members: np.ndarray) -> np.ndarray:
        known = self.densities.setdefault(density_k, np.full(self.size, np.nan))
        missing = np.unique(members[np.isnan(known[members])])
        if len(missing):
            # the nearest neighbours of a few hundred test clips are a fraction of a 1000-clip bank: searching
            # just those members costs that fraction of the bank's full self-search
            k = min(density_k + 1, self.size)  # each member finds itself first
            dist, _ = self.index.search(self.members[missing], k)
            known[missing] = dist[:, 1:].mean(1) if k > 1 else 0.0
        return known[members]


def shared(bundle: Bundle, key: tuple, make):
    """`make()`, computed once per bundle and key: the work option values have in common."""
    if key not in bundle.shared:
        bundle.shared[key] = make()
    return bundle.shared[key]


class NeighbourScorer(Scorer):
    """Shared by the kNN family: `bank_change` and `changed_bank` say how a scorer alters a domain's bank; indexes,
    densities and searches are shared through the bundles by every scorer that needs the same bank."""

    reads = ("embeddings",)
    checks_finite = ("embeddings",)  # by the index, from its row norms
    searches = True

    def __init__(self, k=5, metric="cosine", aggregate="mean", combine="min", normalize=None, density_k=5,
                 device="cpu"):
        super().__init__(device)
        if aggregate not in ("mean", "kth"):
            raise ValueError(f"aggregate must be mean or kth, not {aggregate!r}")
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}, not {combine!r}")
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be ratio or difference (or None), not {normalize!r}")
        self.k, self.metric, self.aggregate, self.combine = k, metric, aggregate, combine
        self.normalize, self.density_k = normalize, density_k

    def min_train_clips(self) -> int:
        return self.k

    def domain_banks(self, train: Bundle) -> dict[str, np.ndarray]:
        """Bank name -> embeddings: one per domain of the training clips (a single one without domains)."""
        if train.domain is None or self.combine == "pooled":
            return {"all": train.embeddings}
        banks = {}
        for domain in np.unique(train.domain):
            rows = np.flatnonzero(train.domain == domain)
            # a domain's clips usually sit together (file names sort by domain): a view, not an 8 MB copy per section
            together = rows[-1] - rows[0] + 1 == len(rows)
            banks[str(domain)] = train.embeddings[rows[0]:rows[-1] + 1] if together else train.embeddings[rows]
        return banks

    def bank_change(self, name: str, banks: dict[str, np.ndarray]) -> tuple | None:
        """A hashable description of how this scorer changes bank `name`, or None to keep it as it is."""
        return None

    def changed_bank(self, name: str, banks: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def fit(self, train: Bundle):
        banks = self.domain_banks(train)
        self.banks_ = [self._bank(train, banks, name, f"{train.name} ({name} bank)" if len(banks) > 1 else train.name)
                       for name in banks]
        if self.normalize and any(b.size < 2 for _, b in self.banks_):
            raise DataError(f"{train.name}: a memory bank of one clip has no neighbour to normalise by; use "
                            "combine=pooled, or drop normalize")
        return self

    def _bank(self, train: Bundle, banks: dict[str, np.ndarray], name: str, where: str) -> tuple[tuple, Bank]:
        """(key, bank): built once per training bundle for every scorer that changes bank `name` the same way."""
        change = self.bank_change(name, banks)

        def make():
            members = banks[name] if change is None else self.changed_bank(name, banks)
            return Bank(members, self.metric, self.device, f"{where}: embeddings")
        key = ("bank", train.uid, name, change, self.metric, self.device)  # "all" is the same bank pooled or not
        return key, shared(train, key, make)

    def nearest(self, key: tuple, bank: Bank, test: Bundle, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest bank members of each test clip, from the widest search of this bank run on `test` so far
        (its first k columns, sorted nearest first, are the k nearest)."""
        widest = test.shared.get(("search", key))
        if widest is None or widest[0].shape[1] < k:
            widest = test.shared[("search", key)] = bank.index.search(test.embeddings, k, f"{test.name}: embeddings")
        return widest[0][:, :k], widest[1][:, :k]

    def score(self, test: Bundle) -> np.ndarray:
        per_bank = []
        for key, bank in self.banks_:
            # a bank smaller than k (a target domain of 3 clips) contributes all its clips
            dist, idx = self.nearest(key, bank, test, min(self.k, bank.size))
            if self.normalize == "ratio":
                dist = dist / np.maximum(bank.density(self.density_k, idx), 1e-12)
            elif self.normalize == "difference":
                dist = dist - bank.density(self.density_k, idx)
            per_bank.append(dist.mean(1) if self.aggregate == "mean" else dist[:, -1])
        per_bank = np.stack(per_bank)
        return per_bank.min(0) if self.combine == "min" else per_bank.mean(0)


@register
class KNNScorer(NeighbourScorer):
    """Distance to the k nearest normal training embeddings (their mean, or the k-th); one memory bank per domain,
    combined by min or mean (pooled: one bank); normalize=ratio|difference divides by / subtracts the neighbour's own
    mean distance to its density_k nearest bank members."""

    name = "knn"
