"""How a task year turns per-clip scores into its official figures: one class per kind of official score.

A year names its kind (`TaskYear.scoring`); the runner, the leaderboard, `bench evaluate` and the bootstrap read
every year-specific rule from it: the per-section table, the official score and its parts, the per-type
cells, what the `auc` of a result row means, which figures the summaries show and how a resample is scored.
The formulas themselves are `dcase.metrics`.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from dcase import metrics
from dcase.roc import areas_from_counts, counts


class Scoring:
    """One kind of official score. `layout` names the leaderboard section that shows it."""

    layout: ClassVar[str] = ""
    summary: ClassVar[tuple[str, ...]] = ()       # the figures shown beside the official score
    summary_names: ClassVar[tuple[str, ...]] = ()  # their column headers
    metric: ClassVar[dict[str, str]] = {}         # what a result row's `auc` is, by the row's domain
    what: ClassVar[str] = ""                      # the official score, in words
    jackknife: ClassVar[bool] = False             # the evaluator reports a jackknife CI95
    needs_decisions: ClassVar[bool] = False       # the evaluator skips a system without decision files
    max_fpr: ClassVar[float] = metrics.MAX_FPR    # the pAUC's upper false positive rate
    pooled: ClassVar[tuple[str, ...]] = ()        # the section areas whose harmonic mean is the official score
    pooled_figures: ClassVar[dict[str, tuple[str, ...]]] = {}  # summary figure -> the areas it is the hmean of

    def section_table(self, clips: pd.DataFrame) -> pd.DataFrame:
        """Per-(type, section[, domain]) rows of labelled clips (columns machine_type, section, domain, label,
        score and, optionally, decision)."""
        clips = clips[clips.label >= 0]
        rows = [dict(machine_type=t, section=s, **r) for (t, s), g in clips.groupby(["machine_type", "section"])
                for r in self.section_rows(g)]
        return pd.DataFrame(rows, columns=["machine_type", "section", "domain", "auc", "pauc", "precision", "recall", "f1"])

    def section_rows(self, g: pd.DataFrame) -> list[dict]:
        raise NotImplementedError

    def official_score(self, table: pd.DataFrame) -> dict:
        """The headline figures of `section_table` rows (fractions in [0, 1]); `official_score` among them."""
        raise NotImplementedError

    def per_type(self, table: pd.DataFrame) -> dict[str, dict[str, float]]:
        """Per machine type, the mean over its sections of each figure the result pages show."""
        raise NotImplementedError

    def resampled_section(self, ranks: np.ndarray, m: int, domains: np.ndarray, labels: np.ndarray
                          ) -> dict[str, np.ndarray]:
        """One section's named ROC areas, for each resample: `ranks` (resamples, n) are the drawn clips' places
        among the section's `m` distinct scores (`dcase.roc.descending_ranks`), drawn within (domain, label)
        strata, so `domains` and `labels` (n,) hold for every resample."""
        raise NotImplementedError

    def resampled_figures(self, sections: list[dict[str, np.ndarray]], types: list[str]) -> dict[str, np.ndarray]:
        """The official score and the summary figures of each resample, from every section's `resampled_section`
        (`types`: each section's machine type): by default, harmonic means over all sections' areas."""
        def pooled(*names):
            return metrics.floored_hmean_rows(np.stack([s[n] for s in sections for n in names if n in s], 1))
        return {"official_score": pooled(*self.pooled), **{f: pooled(*names) for f, names in self.pooled_figures.items()}}

    def selection(self, figures: dict) -> float:
        """What checkpoint selection on labelled development clips maximises: the official score."""
        return figures["official_score"]

    def summary_of(self, tables: list[pd.DataFrame]) -> dict[str, float]:
        """The mean over seeds (one section table each) of the official score and the summary figures."""
        figures = [self.official_score(t) for t in tables]
        return {k: float(np.mean([f[k] for f in figures])) for k in ("official_score", *self.summary)}


class PerMachineID(Scoring):
    """DCASE 2020: AUC and pAUC per machine ID; per type the mean over its IDs; harmonic mean over types."""

    layout = "per_id"
    summary, summary_names = ("mean_auc", "mean_pauc", "hmean_pauc"), ("mean AUC", "mean pAUC", "hmean pAUC")
    metric = {"all": "auc per machine ID"}
    what = "the harmonic mean over machine types of the mean AUC over each type's machine IDs"

    def section_rows(self, g):
        auc, pauc = metrics.auc_pauc(g.label, g.score)
        return [dict(domain="all", auc=auc, pauc=pauc, precision=np.nan, recall=np.nan, f1=np.nan)]

    def official_score(self, table):
        s = metrics.summarize(table)
        return {"official_score": float(s.loc["hmean", "auc"]), "hmean_auc": float(s.loc["hmean", "auc"]),
                "hmean_pauc": float(s.loc["hmean", "pauc"]), "mean_auc": float(s.loc["mean", "auc"]),
                "mean_pauc": float(s.loc["mean", "pauc"])}

    def per_type(self, table):
        return {t: {"auc": float(g.auc.mean()), "pauc": float(g.pauc.mean())} for t, g in table.groupby("machine_type")}

    def selection(self, figures):
        """Mean AUC + mean pAUC, as the seed paper selects its checkpoints (`MISSION.md`): its reference numbers
        come from that rule."""
        return figures["mean_auc"] + figures["mean_pauc"]

    def resampled_section(self, ranks, m, domains, labels):
        auc, pauc = areas_from_counts(counts(ranks, labels == 1, m), counts(ranks, labels == 0, m), (None, self.max_fpr))
        return {"auc": auc, "pauc": pauc}

    def resampled_figures(self, sections, types):
        """Per type, the mean over its machine IDs; then the harmonic (and arithmetic) mean over types."""
        names = sorted(set(types))
        out = {}
        for area in ("auc", "pauc"):
            by_type = np.stack([np.mean([s[area] for s, t in zip(sections, types) if t == name], axis=0)
                                for name in names], 1)
            out[f"mean_{area}"], out[f"hmean_{area}"] = by_type.mean(1), metrics.floored_hmean_rows(by_type)
        return {"official_score": out["hmean_auc"], **out}


class PerDomain(Scoring):
    """DCASE 2021: AUC and pAUC per (type, section, domain), each from that domain's clips alone."""

    layout = "domains"
    summary = ("hmean_auc", "hmean_source", "hmean_target", "hmean_pauc")
    pooled = ("auc_source", "pauc_source", "auc_target", "pauc_target")
    pooled_figures = {"hmean_auc": ("auc_source", "auc_target"), "hmean_pauc": ("pauc_source", "pauc_target"),
                      "hmean_source": ("auc_source",), "hmean_target": ("auc_target",)}
    summary_names = ("hmean AUC", "hmean AUC (source clips)", "hmean AUC (target clips)", "hmean pAUC")
    metric = {"source": "auc of source clips", "target": "auc of target clips"}
    what = ("the harmonic mean of the AUC and pAUC of every (machine type, section, domain), each domain scored on "
            "its own test clips")

    def section_rows(self, g):
        return metrics.section_scores_2021(g)

    def official_score(self, table):
        return {"official_score": metrics.floored_hmean(np.concatenate([table.auc, table.pauc])),
                "hmean_auc": metrics.floored_hmean(table.auc), "hmean_pauc": metrics.floored_hmean(table.pauc),
                "hmean_source": metrics.floored_hmean(table[table.domain == "source"].auc),
                "hmean_target": metrics.floored_hmean(table[table.domain == "target"].auc),
                "mean_auc": float(table.auc.mean()), "mean_pauc": float(table.pauc.mean())}

    def per_type(self, table):
        return {t: {f"{m}_{d}": float(g[g.domain == d][m].mean()) for d in ("source", "target")
                    for m in ("auc", "pauc") if (g.domain == d).any()} for t, g in table.groupby("machine_type")}

    def resampled_section(self, ranks, m, domains, labels):
        out = {}
        for domain in ("source", "target"):
            mine = domains == domain
            if mine.any():
                out[f"auc_{domain}"], out[f"pauc_{domain}"] = areas_from_counts(
                    counts(ranks, mine & (labels == 1), m), counts(ranks, mine & (labels == 0), m), (None, self.max_fpr))
        return out


class DomainGeneralisation(Scoring):
    """DCASE 2022 on: AUC-source and AUC-target with every anomaly of the section, pAUC over the section."""

    layout = "domains"
    summary = ("hmean_source", "hmean_target", "hmean_pauc")
    pooled = ("auc_source", "auc_target", "pauc")
    pooled_figures = {"hmean_source": ("auc_source",), "hmean_target": ("auc_target",), "hmean_pauc": ("pauc",)}
    summary_names = ("hmean AUC-source", "hmean AUC-target", "hmean pAUC")
    metric = {"source": "auc of source normals + all anomalies", "target": "auc of target normals + all anomalies",
              "all": "auc and pauc of the section"}
    what = ("the harmonic mean of AUC-source, AUC-target and pAUC over every (machine type, section): AUC-source "
            "ranks the source-domain normal clips against every anomaly of the section, AUC-target the "
            "target-domain normal clips against every anomaly, pAUC (max FPR 0.1) all clips of the section")
    jackknife, needs_decisions = True, True

    def section_rows(self, g):
        return metrics.section_scores_domain(g)

    def official_score(self, table):
        source, target = table[table.domain == "source"], table[table.domain == "target"]
        pauc = table[table.domain == "all"].pauc
        out = {"official_score": metrics.floored_hmean(np.concatenate([source.auc, target.auc, pauc])),
               "hmean_source": metrics.floored_hmean(source.auc), "hmean_target": metrics.floored_hmean(target.auc),
               "hmean_pauc": metrics.floored_hmean(pauc), "mean_auc": float(np.mean(np.concatenate([source.auc, target.auc])))}
        for domain, part in (("source", source), ("target", target)):
            for figure in ("precision", "recall", "f1"):
                out[f"{figure}_{domain}"] = float(part[figure].mean())
        return out

    def per_type(self, table):
        return {t: {"auc_source": float(g[g.domain == "source"].auc.mean()),
                    "auc_target": float(g[g.domain == "target"].auc.mean()),
                    "pauc": float(g[g.domain == "all"].pauc.mean())} for t, g in table.groupby("machine_type")}

    def resampled_section(self, ranks, m, domains, labels):
        anomalies, out = counts(ranks, labels == 1, m), {}
        for domain in ("source", "target"):  # the domain's normals against every anomaly of the section
            normals = (domains == domain) & (labels == 0)
            if normals.any():
                out[f"auc_{domain}"] = areas_from_counts(anomalies, counts(ranks, normals, m))[0]
        out["pauc"] = areas_from_counts(anomalies, counts(ranks, labels == 0, m), (self.max_fpr,))[0]
        return out


PER_MACHINE_ID, PER_DOMAIN, DOMAIN_GENERALISATION = PerMachineID(), PerDomain(), DomainGeneralisation()
