// The leaderboard page's tables: DataTables from the inlined bundle (a blob: module, so nothing is fetched),
// each table's rows from the JSON beside it, numbers sorted by their value and printed as the markdown prints them
// (the JSON's `shown`: one rounding rule for both, Python's).
const bundle = document.getElementById("board-bundle").textContent;
const url = URL.createObjectURL(new Blob([atob(bundle)], {type: "application/javascript"}));
const {default: DataTable, set_or_remove_dark_class: setDark} = await import(url);
URL.revokeObjectURL(url);
setDark?.();  // DataTables' own dark styles follow the reader's system setting

const escaped = v => String(v).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

function render(kind, shown) {
  if (kind === "text") return (v, type) => v === null ? "" : type === "display" ? escaped(v) : v;  // export: as stored
  return (v, type, row, meta) => {
    if (type === "display") return v === null ? "–" : shown[meta.row][meta.col];
    if (type === "sort" || type === "type") return v === null ? -Infinity : v;  // missing sorts below every number
    return v === null ? "" : v;  // filter and export: the full-precision value
  };
}

// The badge is part of the cell's text so that the column is measured with it; exports keep the plain name.
function marked(base, rows) {
  return (v, type, row, meta) => {
    const shown = base(v, type, row, meta);
    return type === "display" && rows[meta.row] ? shown + ' <em class="badge">(official baseline)</em>' : shown;
  };
}

window.boardTables = {};
for (const table of document.querySelectorAll("table.board")) {
  const spec = JSON.parse(document.getElementById(table.dataset.anchor + "-data").textContent);
  const groups = [...new Set(spec.columns.map(c => c.group).filter(Boolean))];
  const columns = spec.columns.map((c, i) => ({
    data: i, render: i === 0 ? marked(render(c.kind, spec.shown), spec.marked) : render(c.kind, spec.shown), type: c.kind === "text" ? "string" : "num",
    className: (c.kind === "text" ? "dt-left" : "dt-right") + (c.group ? " group-" + groups.indexOf(c.group) : ""),
    visible: !c.group,
    createdCell: (td, value, row, index) => { if (spec.best[c.header] === index) td.classList.add("best"); },
  }));
  const toggles = groups.map((g, k) => ({
    text: "show " + g, className: "toggle-group",
    action: (e, dt, node) => {
      const cols = dt.columns(".group-" + k);
      const show = !cols.visible()[0];
      cols.visible(show);
      node.text((show ? "hide " : "show ") + g);
    },
  }));
  const file = table.dataset.anchor;
  const dt = new DataTable(table, {
    data: spec.rows, columns, paging: false, info: false, searching: true, autoWidth: false,
    order: spec.order, scrollX: true, fixedColumns: {start: 1},
    layout: {topStart: "buttons", topEnd: "search"},
    buttons: [
      {extend: "copyHtml5", text: "copy", exportOptions: {orthogonal: "export", stripHtml: false}},
      {extend: "csvHtml5", text: "CSV", filename: file, exportOptions: {orthogonal: "export", stripHtml: false}},
      ...toggles,
    ],
    createdRow: (row, data, index) => { if (spec.marked[index]) row.classList.add("baseline"); },
  });
  window.boardTables[file] = {dt, spec};
}
document.body.dataset.ready = String(Object.keys(window.boardTables).length);
