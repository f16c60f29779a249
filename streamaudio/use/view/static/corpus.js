// The corpus page: streams by capability and split, filters, the validate report and the stats figures.
"use strict";

const SHOWN = 1000; // rows drawn at most; the filters narrow the rest

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

let corpus = null;

function options(select, values) {
  for (const v of [...new Set(values)].sort()) select.append(el("option", { value: v, text: v }));
}

function groups(streams, shardErrors) {
  const by = new Map();
  const broken = new Map(); // shards the page could not read, by capability and split (from their names)
  for (const e of shardErrors) {
    const m = /([^/\\]+)-([^/\\-]+)-\d+\.tar$/.exec(e.shard);
    if (m) broken.set(`${m[1]}\u0000${m[2]}`, (broken.get(`${m[1]}\u0000${m[2]}`) || 0) + 1);
  }
  for (const s of streams) {
    if (s.error && !s.capability) continue;
    const key = `${s.capability}\u0000${s.split}`;
    const g = by.get(key) || { capability: s.capability, split: s.split, streams: 0, seconds: 0, turns: 0, replies: 0, faults: 0 };
    g.streams += 1; g.seconds += s.seconds; g.turns += s.turns; g.replies += s.replies; g.faults += s.faults.length ? 1 : 0;
    by.set(key, g);
  }
  const body = $("groups").querySelector("tbody");
  body.replaceChildren(...[...by.values()].sort((a, b) => (a.capability + a.split).localeCompare(b.capability + b.split)).map((g) => {
    const shards = broken.get(`${g.capability}\u0000${g.split}`) || 0;
    const faults = `${g.faults}${shards ? ` + ${shards} unreadable shard${shards > 1 ? "s" : ""}` : ""}`;
    return el("tr", {}, el("td", { text: g.capability }), el("td", { text: g.split }), el("td", { class: "num", text: g.streams }),
      el("td", { class: "num", text: (g.seconds / 3600).toFixed(2) }), el("td", { class: "num", text: g.turns }),
      el("td", { class: "num", text: g.replies }), el("td", { class: "num" + (g.faults || shards ? " fault" : ""), text: faults }));
  }));
}

function totals(data) {
  const seconds = data.streams.reduce((a, s) => a + (s.seconds || 0), 0);
  $("totals").replaceChildren(
    el("div", { class: "big", text: `${data.streams.length} streams` }),
    el("div", { text: `${(seconds / 3600).toFixed(2)} hours in ${new Set(data.streams.map((s) => s.shard)).size} shards` }));
  const report = $("report");
  if (!data.report) {
    report.replaceChildren(el("div", { class: "muted", text: "No validate report yet: run" }), el("code", { text: `streamaudio validate ${data.out}` }));
    return;
  }
  const kinds = Object.entries(data.report.faults);
  const warnings = Object.entries(data.report.warnings);
  report.replaceChildren(
    el("div", { class: data.report.ok ? "ok big" : "fault big", text: data.report.ok ? "validate: OK" : "validate: FAILED" }),
    ...kinds.map(([k, n]) => el("div", { class: "fault", text: `${n} × ${k}` })),
    ...warnings.map(([k, n]) => el("div", { class: "muted", text: `${n} × ${k} (warning)` })));
}

function histogram(title, hist, unit) {
  // bars of counts over equal bins, the value axis labelled at both ends and the middle
  const w = 260, h = 90, pad = 18, counts = hist.counts, top = Math.max(...counts, 1), bw = (w - 2) / counts.length;
  const chart = svg("svg", { class: "chart", width: w, height: h + pad + 16, role: "img", "aria-label": title });
  chart.append(svg("text", { x: 0, y: 11, class: "chart-title", text: title }));
  counts.forEach((n, i) => {
    const bh = (n / top) * h;
    chart.append(svg("rect", { x: 1 + i * bw, y: 16 + h - bh, width: Math.max(1, bw - 1), height: bh },
      svg("title", { text: `${hist.edges[i]}–${hist.edges[i + 1]} ${unit}: ${n}` })));
  });
  const edges = hist.edges, mid = edges[Math.floor(edges.length / 2)];
  for (const [x, v, anchor] of [[0, edges[0], "start"], [w / 2, mid, "middle"], [w, edges[edges.length - 1], "end"]]) {
    chart.append(svg("text", { x, y: 16 + h + 13, "text-anchor": anchor, text: `${+(+v).toFixed(unit === "ms" ? 0 : unit === "dB" ? 1 : 2)} ${unit}` }));
  }
  return chart;
}

function barList(title, pairs) {
  // one labelled bar per name, longest first
  const w = 260, row = 16, top = Math.max(...pairs.map((p) => p[1]), 1);
  const chart = svg("svg", { class: "chart", width: w, height: 18 + pairs.length * row, role: "img", "aria-label": title });
  chart.append(svg("text", { x: 0, y: 11, class: "chart-title", text: title }));
  pairs.forEach(([name, n], i) => {
    const y = 18 + i * row;
    chart.append(svg("rect", { x: 110, y: y + 2, width: Math.max(1, ((w - 150) * n) / top), height: row - 4 }));
    chart.append(svg("text", { x: 106, y: y + 12, "text-anchor": "end", text: String(name).slice(0, 18) },
      svg("title", { text: String(name) })));
    chart.append(svg("text", { x: 114 + ((w - 150) * n) / top, y: y + 12, text: n.toLocaleString() }));
  });
  return chart;
}

function figures(stats) {
  const range = (p, unit) => (p ? `${p.median} ${unit} (5–95%: ${p.p5}–${p.p95})` : "–");
  const drawn = [];
  const h = stats.histograms || {};
  if (h.latency_ms) drawn.push(histogram("reply latency after the trigger", h.latency_ms, "ms"));
  if (h.gap_s) drawn.push(histogram("gaps", h.gap_s, "s"));
  if (h.snr_db) drawn.push(histogram("background SNR", h.snr_db, "dB"));
  if (stats.sources.length) drawn.push(barList("clips per source", stats.sources.slice(0, 6)));
  const voices = Object.entries(stats.voices);
  if (voices.length) drawn.push(barList("voices per capability", voices));
  $("figures").replaceChildren(
    el("h2", { text: "Stats" }),
    el("div", { text: `reply latency after the trigger ends: ${range(stats.latency_ms, "ms")}` }),
    el("div", { text: `gaps: ${range(stats.gap_s, "s")} · background SNR: ${range(stats.snr_db, "dB")}` }),
    el("div", { class: "charts" }, ...drawn));
}

function row(s) {
  const link = el("a", { href: `/stream/${encodeURIComponent(s.key)}`, text: s.key });
  const faults = el("td", { class: "fault" });
  if (s.error) faults.append(el("span", { class: "tag fault", text: "unreadable" }), s.error);
  else if (s.faults.length) faults.append(el("span", { text: `${s.faults.length}: ${s.faults[0]}`, title: s.faults.join("\n") }));
  return el("tr", { class: "stream", "data-key": s.key }, el("td", {}, link), el("td", { text: s.capability || "?" }),
    el("td", { text: s.split || "?" }), el("td", { class: "num", text: s.seconds ? clock(s.seconds) : "–" }),
    el("td", { class: "num", text: s.turns ?? "–" }), el("td", { class: "num", text: s.replies ?? "–" }),
    el("td", { class: "voices", text: (s.voices || []).join(", "), title: (s.voices || []).join("\n") }), faults);
}

function apply() {
  const capability = $("f-capability").value, split = $("f-split").value;
  const faulty = $("f-faults").checked, words = $("f-text").value.trim().toLowerCase();
  const shown = corpus.streams.filter((s) => (!capability || s.capability === capability) && (!split || s.split === split)
    && (!faulty || s.faults.length || s.error) && (!words || (s.text || "").toLowerCase().includes(words)));
  $("streams").querySelector("tbody").replaceChildren(...shown.slice(0, SHOWN).map(row));
  $("count").textContent = `${shown.length} of ${corpus.streams.length} streams`;
  const more = $("more");
  more.hidden = shown.length <= SHOWN;
  more.textContent = `${shown.length - SHOWN} more: narrow the filters to see them`;
  sessionStorage.setItem("streamaudio-filters", JSON.stringify({ capability, split, faulty, words: $("f-text").value }));
  const set = [capability, split, faulty ? "has faults" : "", words ? `“${words}”` : ""].filter(Boolean);
  $("filters-set").hidden = !set.length;
  $("filters-set-text").textContent = `filtered (kept for this tab): ${set.join(", ")}`;
}

function clearFilters() {
  $("f-capability").value = ""; $("f-split").value = ""; $("f-faults").checked = false; $("f-text").value = "";
  apply();
}

async function main() {
  corpus = await (await fetch("/api/corpus")).json();
  $("where").textContent = corpus.out;
  options($("f-capability"), corpus.streams.map((s) => s.capability).filter(Boolean));
  options($("f-split"), corpus.streams.map((s) => s.split).filter(Boolean));
  const saved = JSON.parse(sessionStorage.getItem("streamaudio-filters") || "{}");
  $("f-capability").value = saved.capability || ""; $("f-split").value = saved.split || "";
  $("f-faults").checked = !!saved.faulty; $("f-text").value = saved.words || "";
  $("shard-errors").replaceChildren(...corpus.shard_errors.map((e) => el("div", { class: "error", text: `${e.shard}: ${e.error}` })));
  totals(corpus);
  groups(corpus.streams, corpus.shard_errors);
  $("filters-clear").addEventListener("click", clearFilters);
  for (const id of ["f-capability", "f-split", "f-faults", "f-text"]) $(id).addEventListener("input", apply);
  apply();
  document.body.dataset.ready = "yes";
  figures(await (await fetch("/api/stats")).json());
}

main().catch((e) => {
  document.querySelector("main").prepend(el("div", { class: "error", text: `the page failed: ${e.message}` }));
});
