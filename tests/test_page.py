"""The HTML leaderboard: one offline file, checked as a file and in a real Chromium (Debian's, driven by
Playwright; never a browser download). In CI a missing browser fails the test instead of skipping it."""
from __future__ import annotations

import csv
import html.parser
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from board_store import WEIRD, build_store
from page_json import page_tables

from dcase.metrics import summarize
from dcase.tasks import get_task
from leaderboard.columns import PRINTED, pct
from leaderboard.page import inline_markdown, table_json
from leaderboard.page_model import Field, page_table
from leaderboard.results import read_results
from leaderboard.shown_rows import latest

pytestmark = pytest.mark.slow
SIZE_BUDGET = 4_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return build_store(tmp_path_factory.mktemp("page"), monkeypatch)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.refs += [attrs[a] for a in ("src", "href") if a in attrs]
        if "id" in attrs:
            self.ids.add(attrs["id"])


def expected_rows(results: Path) -> dict[tuple[str, str], pd.DataFrame]:
    """Per (task, split), the leaderboard's rows from the store: one per method."""
    rows = read_results(results / "results.csv")
    return {(t, s): g for t, g_task in rows.groupby("task") for s, g in latest(g_task).groupby("split")}


def test_the_page_is_one_offline_file_with_every_table_and_escaped_names(store):
    text = store["page"].read_text()
    links = Links()
    links.feed(text)
    assert store["page"].stat().st_size < SIZE_BUDGET
    assert not [r for r in links.refs if re.match(r"\s*(https?:)?//", r)], "every src and href is local"
    assert all(r[1:] in links.ids for r in links.refs if r.startswith("#")), "every anchor exists"
    tables = page_tables(text)
    for (task, split), rows in expected_rows(store["results"]).items():
        assert f"{task}-{split}" in tables, f"a main table for {task} {split}"
        assert len(tables[f"{task}-{split}"]["rows"]) == rows.method.nunique() + (split == "eval" and task != "dcase2020")
        for machine_type in rows.machine_type.unique():
            assert f"{task}-{split}-{machine_type.lower()}" in links.ids, "per-type tables under stable anchors"
    assert "dcase2021-eval" not in tables and "No evaluation rows" in text
    assert "nan_scores" in text and "non-finite scores" in text, "the failed method is named with its reason"
    assert WEIRD not in text and "emb &lt;&amp;&#34;q&gt;.npz" in text, "names are escaped in the page"
    assert '\\u003c&' not in text and "emb \\u003c\\u0026\\\"q\\u003e.npz" in text, "and inside the JSON"


def test_notes_keep_their_bold_and_code_and_escape_the_rest():
    assert inline_markdown("**knn @ <x>** leads; `select` & co") == \
        "<strong>knn @ &lt;x&gt;</strong> leads; <code>select</code> &amp; co"
    assert inline_markdown("a ** b and 2*3") == "a ** b and 2*3", "a lone pair of stars is left as typed"


def test_the_embedded_figures_are_the_stores(store):
    """The JSON holds what the results store gives: 2020's harmonic-mean AUC per seed mean, 2023's official score."""
    tables = page_tables(store["page"].read_text())
    for (task, split), rows in expected_rows(store["results"]).items():
        table = tables[f"{task}-{split}"]
        headers = [c["header"] for c in table["columns"]]
        got = {r[0]: r for r in table["rows"]}
        scoring = get_task(task).scoring
        for method, g in rows.groupby("method"):
            per_seed = [summarize(s).loc["hmean", "auc"] if task == "dcase2020" else scoring.official_score(s)["official_score"]
                        for _, s in g.groupby("seed")]
            column = "hmean AUC" if task == "dcase2020" else "official score"
            assert got[method][headers.index(column)] == pytest.approx(100 * np.mean(per_seed), abs=1e-9)
            assert got[method][headers.index("seeds")] == g.seed.nunique()
        assert {r[headers.index("seeds")] for r in table["rows"] if r[0] != "select (tuned on dev labels)"} == {1, 3}


def _browser():
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (make test runs scripts/browser-up.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # in CI a missing driver is a failure too
        if os.environ.get("CI"):
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    return path, sync_playwright


def _cells(page, anchor: str) -> list[list[str]]:
    return page.locator(f"#{anchor}-table tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")


def _shown(value, shown, kind: str) -> str:
    """What the page should print for a JSON value and its `shown` string."""
    if kind == "text":
        return "" if value is None else value
    return "–" if value is None else shown


def test_numbers_print_by_one_rule_and_exact_halves_go_to_even():
    """Hand-derived: 65.625 and 65.875 are exact binary halves; 0.145 sits just below its half (0.1449999...)."""
    cases = {"pct": [(65.625, "65.62"), (65.875, "65.88"), (0.145, "0.14"), (100.0, "100.00")],
             "seconds": [(0.0, "0"), (0.5, "0.5"), (0.0123456, "0.0123"), (99.94, "99.9"), (1234.5, "1234"), (250.5, "250")],
             "count": [(3.0, "3"), (2.5, "2")]}
    for kind, pairs in cases.items():
        assert [PRINTED[kind](v) for v, _ in pairs] == [want for _, want in pairs], kind
    assert pct(0.65625) == "65.62" and pct(float("nan")) == "-", "the markdown cell is the same string"
    table = page_table("t", "t", [("a", 65.625, 1234.5, 2.0), ("b", float("nan"), 0.0, 1.0)],
                       [Field("m", lambda r: r[0], kind="text"), Field("p", lambda r: r[1]),
                        Field("s", lambda r: r[2], kind="seconds"), Field("n", lambda r: r[3], kind="count")])
    assert table_json(table)["shown"] == [[None, "65.62", "1234", "2"], [None, None, "0", "1"]]


def test_the_page_in_chromium_sorts_toggles_exports_and_stays_offline(store, tmp_path):
    executable, sync_playwright = _browser()
    text = store["page"].read_text()
    tables = page_tables(text)
    main = [a for a in tables if a.count("-") == 1]
    left, errors, halves = [], [], 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        page = browser.new_page(accept_downloads=True, viewport={"width": 1600, "height": 1000})

        def route(r):
            if r.request.url.split(":", 1)[0] in ("file", "data", "blob"):
                r.continue_()
            else:
                left.append(r.request.url)
                r.abort()
        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(store["page"].as_uri())
        page.wait_for_selector(f"body[data-ready='{len(tables)}']", timeout=30_000)
        for anchor in main:
            spec = tables[anchor]
            headers = [c["header"] for c in spec["columns"]]
            kinds = [c["kind"] for c in spec["columns"]]
            visible = [i for i, c in enumerate(spec["columns"]) if not c["group"]]
            shown = _cells(page, anchor)
            assert len(shown) == len(spec["rows"]), "one visible row per method: no paging, no down-sampling"
            badge = " (official baseline)"
            by_method = {r[0] + badge * spec["marked"][n]: (r, s) for n, (r, s) in enumerate(zip(spec["rows"], spec["shown"]))}
            assert sum(c[0].endswith(badge) for c in shown) == sum(spec["marked"]), "the reference row carries its badge"
            for cells in shown:  # the printed numbers are the JSON's, as the markdown prints them
                row, printed = by_method[cells[0]]
                assert cells[1:] == [_shown(row[i], printed[i], kinds[i]) for i in visible[1:]]
            halves += sum(v is not None and k == "pct" and (Decimal(v) * 1000) % 10 == 5
                          for row in spec["rows"] for v, k in zip(row, kinds))
            frame = pd.DataFrame(spec["rows"], columns=headers)
            column = "mean AUC" if "mean AUC" in headers else headers[visible[4]]
            header = page.locator(f"#{anchor}-table_wrapper .dt-scroll-head thead th", has_text=re.compile(f"^{re.escape(column)}$"))
            directions = []
            page.evaluate("a => { window.draws = 0; window.boardTables[a].dt.on('draw', () => window.draws++); }", anchor)
            for n in range(2):  # both directions, each compared with pandas' sort of the same column
                header.click()
                page.wait_for_function("n => window.draws > n", arg=n)  # DataTables sorts in a timeout after the click
                ascending = "dt-ordering-asc" in header.get_attribute("class")
                directions.append(ascending)
                want = frame.sort_values(column, ascending=ascending, na_position="first" if ascending else "last",
                                         kind="stable")[column]
                got = [c[visible.index(headers.index(column))] for c in _cells(page, anchor)]
                assert got == ["–" if pd.isna(v) else PRINTED["pct"](v) for v in want], f"{anchor} sorted by {column}"
            assert sorted(directions) == [False, True]
            groups = [i for i, c in enumerate(spec["columns"]) if c["group"]]
            count = lambda: page.locator(f"#{anchor}-table_wrapper .dt-scroll-head thead th").count()
            assert count() == len(visible)
            toggle = page.locator(f"#{anchor}-table_wrapper button.toggle-group")
            toggle.click()
            assert count() == len(visible) + len(groups), "the toggle shows the per-type group"
            toggle.click()
            assert count() == len(visible), "and hides it again"
            with page.expect_download() as download:
                page.locator(f"#{anchor}-table_wrapper button", has_text="CSV").click()
            with open(download.value.path(), newline="", encoding="utf-8-sig") as f:
                exported = list(csv.reader(f))
            assert exported[0] == headers, "the CSV carries every column, hidden ones included"
            parsed = {row[0]: row for row in exported[1:] if row}
            for row in spec["rows"]:
                assert [parsed[row[0]][i] for i, k in enumerate(kinds) if k == "text"] == [
                    row[i] for i, k in enumerate(kinds) if k == "text"]
                assert [float(parsed[row[0]][i]) if parsed[row[0]][i] else None for i, k in enumerate(kinds) if k != "text"] == \
                    [row[i] for i, k in enumerate(kinds) if k != "text"], "full precision in the CSV"
        for anchor in {a.split("-")[0] for a in main}:
            page.locator(f"#{anchor}").screenshot(path=str(tmp_path / f"{anchor}.png"))
        browser.close()
    assert halves, "the board has values on an exact half (65.625), where JavaScript's toFixed would round up"
    assert not errors, f"console errors: {errors}"
    assert not left, f"requests left the machine: {left}"
    assert len(list(tmp_path.glob("*.png"))) == len({a.split("-")[0] for a in main})
