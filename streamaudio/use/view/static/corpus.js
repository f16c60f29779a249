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

function groups(streams) {
  const by = new Map();
  for (const s of streams) {
    if (s.error && !s.capability) continue;
    const key = `${s.capability}\u0000${s.split}`;
    const g = by.get(key) || { capability: s.capability, split: s.split, streams: 0, seconds: 0, turns: 0, replies: 0, faults: 0 };
    g.streams += 1; g.seconds += s.seconds; g.turns += s.turns; g.replies += s.replies; g.faults += s.faults.length ? 1 : 0;
    by.set(key, g);
  }
  const body = $("groups").querySelector("tbody");
  body.replaceChildren(...[...by.values()].sort((a, b) => (a.capability + a.split).localeCompare(b.capability + b.split)).map((g) =>
    el("tr", {}, el("td", { text: g.capability }), el("td", { text: g.split }), el("td", { class: "num", text: g.streams }),
      el("td", { class: "num", text: (g.seconds / 3600).toFixed(2) }), el("td", { class: "num", text: g.turns }),
      el("td", { class: "num", text: g.replies }), el("td", { class: "num" + (g.faults ? " fault" : ""), text: g.faults }))));
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

function figures(stats) {
  const range = (p, unit) => (p ? `${p.median} ${unit} (5–95%: ${p.p5}–${p.p95})` : "–");
  const voices = Object.entries(stats.voices).map(([c, n]) => `${c} ${n}`).join(", ") || "–";
  const sources = stats.sources.map(([s, n]) => `${s} ${n}`).join(", ") || "–";
  $("figures").replaceChildren(
    el("h2", { text: "Stats" }),
    el("div", { text: `reply latency after the trigger ends: ${range(stats.latency_ms, "ms")}` }),
    el("div", { text: `gaps: ${range(stats.gap_s, "s")}` }),
    el("div", { text: `background SNR: ${range(stats.snr_db, "dB")}` }),
    el("div", { text: `top sources: ${sources}` }),
    el("div", { text: `voices per capability: ${voices}` }));
}

function row(s) {
  const link = el("a", { href: `/stream/${encodeURIComponent(s.key)}`, text: s.key });
  const faults = el("td", { class: "fault" });
  if (s.error) faults.append(el("span", { class: "tag fault", text: "unreadable" }), s.error);
  else if (s.faults.length) faults.append(el("span", { text: `${s.faults.length}: ${s.faults[0]}`, title: s.faults.join("\n") }));
  return el("tr", { class: "stream", "data-key": s.key }, el("td", {}, link), el("td", { text: s.capability || "?" }),
    el("td", { text: s.split || "?" }), el("td", { class: "num", text: s.seconds ? clock(s.seconds) : "–" }),
    el("td", { class: "num", text: s.turns ?? "–" }), el("td", { class: "num", text: s.replies ?? "–" }), faults);
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
  groups(corpus.streams);
  for (const id of ["f-capability", "f-split", "f-faults", "f-text"]) $(id).addEventListener("input", apply);
  apply();
  document.body.dataset.ready = "yes";
  figures(await (await fetch("/api/stats")).json());
}

main().catch((e) => {
  document.querySelector("main").prepend(el("div", { class: "error", text: `the page failed: ${e.message}` }));
});
