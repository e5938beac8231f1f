/* Wide tables on a narrow screen: a table of a chapter's output that is wider than its column is
   shown as one card per row, each cell under its column's name (nvlmodel.css, "table.stacked").
   Each body cell gets its column's header as data-label (every header row joined, colspans and
   rowspans followed), once; the class is set whenever the window changes size. */
(function () {
  function headerLabels(table) {
    const head = table.tHead;
    if (!head) return [];
    const grid = Array.from(head.rows).map(row => {
      const out = [];
      for (const c of row.cells) for (let i = 0; i < (c.colSpan || 1); i++) out.push(c.textContent.trim());
      return out;
    });
    const width = Math.max(0, ...grid.map(g => g.length));
    const labels = [];
    for (let j = 0; j < width; j++) {
      const parts = [];
      for (const g of grid) if (g[j] && !parts.includes(g[j])) parts.push(g[j]);
      labels.push(parts.join(" · "));
    }
    return labels;
  }
  function label(table) {
    const labels = headerLabels(table);
    const occupied = [];
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let col = 0;
        for (const cell of row.cells) {
          while (occupied[col] > 0) col++;
          cell.dataset.label = labels[col] || "";
          for (let k = 0; k < (cell.colSpan || 1); k++) occupied[col + k] = cell.rowSpan || 1;
          col += cell.colSpan || 1;
        }
        for (let j = 0; j < occupied.length; j++) if (occupied[j] > 0) occupied[j]--;
      }
    }
  }
  function tables() {
    return Array.from(document.querySelectorAll(".cell_output .output.text_html table"));
  }
  function fit() {
    for (const t of tables()) {
      const box = t.closest(".output.text_html") || t.parentElement;
      t.classList.remove("stacked");
      box.classList.remove("stacked-box");
      if (t.scrollWidth > box.clientWidth + 1) {
        t.classList.add("stacked");
        box.classList.add("stacked-box");  // the cards run down the page, not inside a scrolling box
      }
    }
  }
  function start() {
    tables().forEach(label);
    fit();
    window.addEventListener("resize", fit);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
