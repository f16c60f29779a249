// The stream page: waveform, the 0.4 s chunk grid with its labels, event lanes, replies, and playback
// with a cursor; click anything to play from there. Keys: space, arrows (a chunk), n/p (stream).
"use strict";

const LANES = [
  ["axis", "seconds", 18], ["wave", "waveform", 84], ["chunks", "chunks", 20], ["replies", "replies", 40],
  ["instruction", "instruction", 28], ["speech", "speech", 28], ["media", "TV / radio", 28], ["sound", "sound", 28],
  ["noise", "noise (gaps)", 22], ["background", "background", 22],
];
const MAX_PPS = 400; // pixels per second at the closest zoom

let meta = null, info = null, peaks = null, pps = 10, fit = 10, seconds = 0, chunk = 0.4, rate = 16000;
const audio = $("audio");

function fail(message) {
  const box = $("error");
  box.hidden = false;
  box.textContent = message;
}

function lane(name) { return document.querySelector(`.lane[data-lane="${name}"]`); }

function seek(t) { audio.currentTime = Math.max(0, Math.min(seconds - 0.01, t)); } // the end: no more to play

function playFrom(t) {
  seek(t);
  audio.play().catch((e) => fail(`cannot play: ${e.message}`));
}

function eventLane(ev) {
  if (ev.kind === "noise") return ev.role === "background" ? "background" : "noise";
  if (ev.role === "media") return "media";
  return ["instruction", "speech", "sound"].includes(ev.kind) ? ev.kind : "sound";
}

function labelNames(ev) { return (ev.label_names || ev.labels || []).join(", "); }

function describe(ev) {
  const parts = [`${ev.kind}${ev.role ? ` (${ev.role})` : ""} ${(ev.start_sample / rate).toFixed(2)}–${(ev.end_sample / rate).toFixed(2)} s`];
  for (const k of ["text", "translation", "phenomenon", "source", "clip_id", "voice", "speaker", "category", "gain_db", "snr_db"]) {
    if (ev[k] !== undefined && ev[k] !== null) parts.push(`${k}: ${ev[k]}`);
  }
  if (ev.labels) parts.push(`labels: ${ev.labels.join(", ")}${ev.label_names ? ` (${ev.label_names.join(", ")})` : ""}`);
  if (ev.augment) parts.push(`augment: ${JSON.stringify(ev.augment)}`);
  return parts.join("\n");
}

function build() {
  const names = $("names"), track = $("track");
  for (const [name, label, height] of LANES) {
    names.append(el("div", { text: label, style: `height:${height}px` }));
    track.insertBefore(el("div", { class: "lane", "data-lane": name, style: `height:${height}px` }), $("cursor"));
  }
  lane("wave").append(el("canvas", { id: "wave", height: 84 }));
  const labels = meta.chunk_labels || "";
  const grid = lane("chunks");
  for (let i = 0; i < labels.length; i++) {
    const kind = labels[i] === "B" ? "reply follows" : "keep silence";
    const cell = el("div", { class: `chunk ${labels[i]}`, "data-chunk": i, title: `chunk ${i} · ${(i * chunk).toFixed(1)}–${((i + 1) * chunk).toFixed(1)} s · ${kind}` });
    cell.addEventListener("click", () => playFrom(i * chunk));
    grid.append(cell);
  }
  meta.events.forEach((ev, i) => {
    const heard = ev.text || labelNames(ev) || ev.category || ev.clip_id || ev.kind;
    const overheard = ev.kind === "speech" && ev.addressed === false ? " overheard" : "";
    const box = el("div", { class: `event ${eventLane(ev)}${overheard}`, "data-event": i, title: describe(ev), text: heard });
    box.addEventListener("click", () => playFrom(ev.start_sample / rate));
    // hovering an event shows its turn's row (whole text) in the table below
    box.addEventListener("mouseenter", () => document.querySelectorAll(`tr.turn[data-event="${i}"]`).forEach((r) => r.classList.add("hover")));
    box.addEventListener("mouseleave", () => document.querySelectorAll("tr.turn.hover").forEach((r) => r.classList.remove("hover")));
    lane(eventLane(ev)).append(box);
  });
  const body = $("turns").querySelector("tbody");
  meta.turns.forEach((turn, i) => {
    const ev = meta.events[turn.event] || { kind: "?", start_sample: 0 };
    const start = ev.start_sample / rate;
    if (turn.respond) {
      const low = lane("replies").children.length % 2 ? " low" : ""; // alternate rows: neighbours overlap less
      const flag = el("div", { class: `reply${low}`, "data-turn": i, title: `${turn.text}\n(${turn.emotion || "normal"}) after chunk ${turn.chunk}` },
        el("span", { text: turn.text || "" }), " ", el("span", { class: "emotion", text: `(${turn.emotion || "normal"})` }));
      flag.addEventListener("click", () => playFrom(start));
      lane("replies").append(flag);
    }
    const row = el("tr", { class: "turn", "data-turn": i, "data-event": turn.event, "data-start": start.toFixed(3) },
      el("td", { class: "num", text: i }), el("td", { class: "num", text: turn.chunk }),
      el("td", { class: "num", text: `${((turn.chunk + 1) * chunk).toFixed(1)} s` }), el("td", { text: ev.kind }),
      el("td", { text: ev.text || labelNames(ev) || ev.clip_id || "" }),
      el("td", { class: turn.respond ? "" : "silent", text: turn.respond ? "reply" : "keep silent" }),
      el("td", { text: turn.text || "" }), el("td", { text: turn.respond ? turn.emotion || "normal" : "" }));
    row.addEventListener("click", () => playFrom(start));
    body.append(row);
  });
}

function layout() {
  const width = Math.ceil(seconds * pps);
  $("track").style.width = `${width}px`;
  const axis = lane("axis");
  axis.replaceChildren();
  const step = [0.4, 1, 2, 5, 10, 20, 30, 60].find((s) => s * pps >= 60) || 120;
  for (let t = 0; t <= seconds; t += step) axis.append(el("div", { class: "tick", style: `left:${t * pps}px`, text: `${+t.toFixed(1)}` }));
  document.querySelectorAll(".chunk").forEach((cell) => {
    const i = +cell.dataset.chunk;
    cell.style.left = `${i * chunk * pps}px`;
    cell.style.width = `${Math.max(1, chunk * pps)}px`;
  });
  document.querySelectorAll(".event").forEach((box) => {
    const ev = meta.events[+box.dataset.event];
    box.style.left = `${(ev.start_sample / rate) * pps}px`;
    box.style.width = `${Math.max(2, ((ev.end_sample - ev.start_sample) / rate) * pps)}px`;
  });
  document.querySelectorAll(".reply").forEach((flag) => {
    const turn = meta.turns[+flag.dataset.turn];
    flag.style.left = `${(turn.chunk + 1) * chunk * pps}px`;
    flag.style.maxWidth = `${Math.max(80, 6 * chunk * pps)}px`;
  });
  draw();
  tick();
}

function draw() {
  const canvas = $("wave"), view = $("timeline");
  if (!canvas) return;
  canvas.width = view.clientWidth;
  canvas.style.left = `${view.scrollLeft}px`; // the canvas covers what is in view, wherever that is
  const ctx = canvas.getContext("2d"), h = canvas.height, mid = h / 2;
  ctx.clearRect(0, 0, canvas.width, h);
  if (!peaks) return;
  if (peaks.error) { ctx.fillStyle = "#dc2626"; ctx.fillText(peaks.error, 8, mid); return; }
  ctx.fillStyle = "#475569";
  for (let x = 0; x < canvas.width; x++) {
    const a = Math.floor(((view.scrollLeft + x) / pps) * peaks.per_second);
    const b = Math.max(a + 1, Math.floor(((view.scrollLeft + x + 1) / pps) * peaks.per_second));
    if (a >= peaks.low.length) break;
    let lo = 0, hi = 0;
    for (let i = a; i < Math.min(b, peaks.low.length); i++) { lo = Math.min(lo, peaks.low[i]); hi = Math.max(hi, peaks.high[i]); }
    const top = mid - (hi / 127) * mid, bottom = mid - (lo / 127) * mid;
    ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

function tick() {
  // media clocks land a hair before a time set on a chunk boundary: a millisecond counts as the boundary
  const t = audio.currentTime || 0, i = Math.min(Math.floor((t + 1e-3) / chunk), (meta.chunk_labels || "").length - 1);
  $("cursor").style.left = `${t * pps}px`;
  const label = (meta.chunk_labels || "")[i] === "B" ? "reply follows" : "keep silence";
  $("time").textContent = `${t.toFixed(2)} / ${seconds.toFixed(1)} s · chunk ${i} (${label})`;
  const now = document.querySelector(".chunk.now");
  if (now && +now.dataset.chunk !== i) now.classList.remove("now");
  document.querySelector(`.chunk[data-chunk="${i}"]`)?.classList.add("now");
  let current = -1;
  meta.turns.forEach((turn, k) => { if ((meta.events[turn.event]?.start_sample ?? Infinity) / rate <= t + 1e-6) current = k; });
  document.querySelectorAll("tr.turn").forEach((row) => row.classList.toggle("now", +row.dataset.turn === current));
  const view = $("timeline"), x = t * pps;
  if (!audio.paused && (x < view.scrollLeft || x > view.scrollLeft + view.clientWidth - 40)) view.scrollLeft = x - 40;
}

function animate() {
  tick();
  if (!audio.paused) requestAnimationFrame(animate);
}

function zoom(to, around) {
  // the wheel zooms around the pointer; the keys and buttons around the cursor, which stays centred
  const view = $("timeline");
  const anchor = around ?? view.clientWidth / 2, t = around === undefined ? audio.currentTime || 0 : (view.scrollLeft + anchor) / pps;
  pps = Math.max(fit, Math.min(MAX_PPS, to));
  layout();
  view.scrollLeft = t * pps - anchor;
  draw();
}

function follow() {
  // keep the cursor in view when it moves by a key: centre it once it would leave
  const view = $("timeline"), x = (audio.currentTime || 0) * pps;
  if (x < view.scrollLeft || x > view.scrollLeft + view.clientWidth - 20) view.scrollLeft = x - view.clientWidth / 2;
}

function step(direction) {
  const t = audio.currentTime, i = direction > 0 ? Math.floor((t + 1e-3) / chunk) + 1 : Math.ceil((t - 1e-3) / chunk) - 1;
  seek(Math.min(i, Math.round(seconds / chunk) - 1) * chunk); // the last chunk's start at most
  tick();
  follow();
}

function keys(event) {
  if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  const go = (key) => { if (key) location.href = `/stream/${encodeURIComponent(key)}`; };
  const actions = {
    " ": () => (audio.paused ? playFrom(audio.currentTime) : audio.pause()),
    ArrowRight: () => step(1), ArrowLeft: () => step(-1),
    n: () => go(info.next), p: () => go(info.previous),
    "+": () => zoom(pps * 1.5), "=": () => zoom(pps * 1.5), "-": () => zoom(pps / 1.5), "0": () => zoom(fit),
  };
  if (actions[event.key]) { event.preventDefault(); actions[event.key](); }
}

async function main() {
  const key = decodeURIComponent(location.pathname.split("/").pop());
  document.title = `${key} · streamaudio view`;
  $("title").textContent = key;
  info = await (await fetch(`/api/stream/${encodeURIComponent(key)}`)).json();
  for (const [id, target] of [["previous", info.previous], ["next", info.next]]) {
    if (target) $(id).href = `/stream/${encodeURIComponent(target)}`; else $(id).classList.add("muted");
  }
  document.addEventListener("keydown", keys);
  if (info.faults.length) {
    $("faults").replaceChildren(...info.faults.map((f) => el("div", { class: f.warning ? "card muted" : "card fault", text: `${f.kind}: ${f.message}` })));
  }
  if (info.error) { fail(info.error); document.body.dataset.ready = "error"; return; }
  meta = info.meta;
  chunk = info.chunk_seconds; rate = meta.sample_rate || info.sample_rate;
  seconds = (meta.num_chunks || 0) * chunk;
  $("facts").textContent = `${meta.capability} · ${meta.split || "?"} · ${seconds.toFixed(1)} s · ${meta.turns.length} turns · `
    + `${(meta.chunk_labels.match(/B/g) || []).length} replies · ${info.shard}`;
  $("system-prompt").textContent = meta.system_prompt || "";
  $("json").textContent = JSON.stringify(meta, null, 1);
  build();
  fit = pps = Math.max(1, ($("timeline").clientWidth - 4) / seconds);
  layout();
  audio.src = `/audio/${encodeURIComponent(key)}.wav`; // a WAV seeks exactly; the FLAC is there to download
  audio.addEventListener("play", () => { $("play").textContent = "❚❚ pause"; animate(); });
  audio.addEventListener("pause", () => { $("play").textContent = "▶ play"; tick(); });
  audio.addEventListener("seeked", tick);
  audio.addEventListener("error", () => fail(`the audio cannot be played (${audio.error?.message || "undecodable"})`));
  $("play").addEventListener("click", () => (audio.paused ? playFrom(audio.currentTime) : audio.pause()));
  $("zoom-in").addEventListener("click", () => zoom(pps * 1.5));
  $("zoom-out").addEventListener("click", () => zoom(pps / 1.5));
  $("zoom-fit").addEventListener("click", () => zoom(fit));
  $("timeline").addEventListener("scroll", draw);
  $("timeline").addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoom(pps * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - $("timeline").getBoundingClientRect().left);
  }, { passive: false });
  window.addEventListener("resize", () => { fit = Math.max(1, ($("timeline").clientWidth - 4) / seconds); zoom(Math.max(pps, fit)); });
  document.body.dataset.ready = "yes";
  peaks = await (await fetch(`/api/peaks/${encodeURIComponent(key)}`)).json();
  if (peaks.error) fail(peaks.error);
  draw();
}

main().catch((e) => { fail(`the page failed: ${e.message}`); document.body.dataset.ready = "error"; });
