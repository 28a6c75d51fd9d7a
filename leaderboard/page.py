"""One self-contained HTML page from `PageSection`s: Jinja2 (autoescaped) for the page, DataTables from itables'
offline bundle for the tables (inlined, so the file opens from disk with no network), figures as PNG data URIs,
and every table's full-precision rows as JSON beside it."""
from __future__ import annotations

import base64
import json
import math
import re
import time
from functools import cache
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from core.atomic import write_text
from leaderboard.columns import PRINTED
from leaderboard.page_model import Figure, PageSection, PageTable, best_rows


@cache
def _assets() -> dict:
    import itables
    bundle = Path(itables.__file__).parent / "html" / "dt_bundle"
    js = bundle.with_suffix(".js").read_bytes()
    version = js.split(b"DataTables ", 1)[1].split(b"\n", 1)[0].decode()[:20] if b"DataTables " in js else "?"
    return {"datatables_css": Markup(bundle.with_suffix(".css").read_text(encoding="utf-8")),
            "datatables_js_b64": Markup(base64.b64encode(js).decode("ascii")),
            "datatables_version": version, "itables_version": itables.__version__,
            "init_js": Markup(files("leaderboard").joinpath("page.js").read_text(encoding="utf-8"))}


def inline_markdown(text: str) -> Markup:
    """The markdown the notes share with LEADERBOARD.md (`**bold**`, `code`) as HTML; everything else escaped."""
    html = str(escape(text))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", html))


def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("leaderboard", "."), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["md"] = inline_markdown
    return env.get_template("page.html.j2")


def script_json(value) -> Markup:
    """JSON safe inside a <script> element: no `<`, `>` or `&` that could close it; NaN as null."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def table_json(table: PageTable) -> dict:
    """What the page's script reads: columns with kind, group and definition; rows at full precision and, for
    numbers, `shown` as the markdown prints them; the initial order (by the section's score, high first); the marked
    rows; where each column's best value is."""
    headers = list(table.frame.columns)
    order = [[headers.index(table.score), "desc"]] if table.score else []
    rows = [[_clean(v) for v in row] for row in table.frame.astype(object).itertuples(index=False)]
    kinds = [f.kind for f in table.fields]
    shown = [[None if v is None or k == "text" else PRINTED[k](v) for v, k in zip(row, kinds)] for row in rows]
    return {"anchor": table.anchor,
            "columns": [{"header": f.header, "kind": f.kind, "group": f.group, "define": f.define} for f in table.fields],
            "rows": rows, "shown": shown, "order": order, "marked": table.marked, "best": best_rows(table)}


def _definitions(table: PageTable) -> list[dict]:
    """The footnote: each shown column's definition, and one line per hidden group (its headers carry their own)."""
    shown = [{"header": f.header, "define": f.define} for f in table.fields if f.define and not f.group]
    groups = dict.fromkeys(f.group for f in table.fields if f.group)
    return shown + [{"header": g, "define": f"behind the \"show {g}\" button: one column per {g.removeprefix('per ')} "
                     "and figure; hover its header for the definition"} for g in groups]


def _item(item) -> dict:
    if isinstance(item, PageTable):
        return {"kind": "table", "anchor": item.anchor, "title": item.title, "folded": item.folded, "notes": item.notes,
                "columns": item.fields, "defs": _definitions(item),
                "json": script_json(table_json(item))}
    if isinstance(item, Figure):
        return {"kind": "figure", "title": item.title, "uri": "data:image/png;base64," + base64.b64encode(item.png).decode()}
    return {"kind": "text", "text": item.text, "css": "notice" if item.notice else ""}


def page_html(sections: list[PageSection], title: str, subtitle: str) -> str:
    ctx = [{"anchor": s.anchor, "title": s.title, "facts": s.facts, "content": [_item(i) for i in s.items],
            "tables": [i for i in s.items if isinstance(i, PageTable)]} for s in sections]
    return _template().render(title=title, subtitle=subtitle, sections=ctx, **_assets())


def write_page(path: Path, sections: list[PageSection], title: str, source: str) -> str:
    """Write the page atomically; returns its text."""
    html = page_html(sections, title, f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {source}. Sort by clicking a "
                     "header (shift-click adds a second key); every table has copy and CSV buttons (full precision) and its "
                     "rows as JSON in the page; hover a header for its definition.")
    write_text(path, html)
    return html
