"""Plugin loading: a third-party plugin that fails to import says so with its entry point (and keeps failing, not
vanishing), and an error inside a plugin surfaces as itself, not as a bad option."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from core.plugins import PluginError
from methods import Bundle, registry


def _install(tmp_path, monkeypatch, source: str, entry: str):
    (tmp_path / "third_party.py").write_text(textwrap.dedent(source))
    info = tmp_path / "third_party-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: third-party\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[asd_bench.scorers]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.SCORERS, "loaded", False)
    monkeypatch.setattr(registry.SCORERS, "entries", dict(registry.SCORERS.entries))
    monkeypatch.delitem(sys.modules, "third_party", raising=False)


def test_a_plugin_that_fails_to_import_is_named_with_its_entry_point_every_time(tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch, "import not_a_module_anywhere\n", "broken = third_party:Broken")
    for _ in range(2):  # the registry is not marked loaded by the failed attempt
        with pytest.raises(PluginError, match=r"method plugin 'broken' \(entry point third_party:Broken in group "
                                              r"asd_bench.scorers\) failed to import: ModuleNotFoundError"):
            registry.available()
    assert registry.SCORERS.loaded is False


PLUGIN = '''
    import numpy as np
    from methods import Scorer

    class Buggy(Scorer):
        name = "buggy"

        def __init__(self, scale=1.0, where="fit", device="cpu"):
            super().__init__(device)
            if scale < 0:
                raise ValueError("scale must be >= 0")
            if where == "init":
                len(None)  # a bug, not a refused option
            self.where = where

        def fit(self, train):
            if self.where == "fit":
                len(None)
            return self

        def score(self, test):
            return np.zeros(len(test.embeddings))
'''


def test_errors_inside_a_plugin_surface_as_themselves(tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch, PLUGIN, "buggy = third_party:Buggy")
    with pytest.raises(PluginError, match="buggy: scale must be >= 0"):
        registry.get_scorer("buggy", scale=-1)  # a refused value is an option error
    with pytest.raises(TypeError, match="has no len"):
        registry.get_scorer("buggy", where="init")  # a bug in __init__ is not
    scorer = registry.get_scorer("buggy")
    bundle = Bundle(np.ones((4, 3), np.float32), np.zeros((4, 0), np.float32), np.zeros(4, int), "clips")
    with pytest.raises(TypeError, match="has no len"):
        scorer.fit(bundle)
