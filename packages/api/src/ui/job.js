// One job: live progress (polls the job API), φ over time and deadline misses, per-class and per-track
// summaries, and the viewer. Sets data-ready on <body> once a finished job's results are all shown.
import { api, el, loadMeta, showNotice, trackColor } from "./api.js";
import { drawPhiChart } from "./charts.js";
import { Viewer } from "./viewer.js";

const id = decodeURIComponent(location.pathname.split("/").pop());
const base = `/jobs/${encodeURIComponent(id)}`;
const $ = (selector) => document.querySelector(selector);
$("#job-id").textContent = id;
document.title = `vdet · ${id}`;

const viewer = new Viewer($("#video"), $("#overlay"));
const samples = [];
let tracks = [];
let tracksComplete = false;
let videoSet = false;

function bar(name, value, total) {
  const share = total > 0 ? Math.min(1, value / total) : 0;
  return el(
    "div",
    { class: "bar", "data-stage": name },
    el("span", {}, name),
    el(
      "div",
      { class: "track" },
      Object.assign(el("div", { class: "fill" }), { style: `width:${(share * 100).toFixed(1)}%` }),
    ),
    el("span", { class: "num" }, total > 0 ? `${value} / ${total}` : String(value)),
  );
}

function showJob(job, terminal, stalled) {
  const state = $("#state");
  state.textContent = job.state;
  state.className = `state ${job.state}`;
  // No process serves the job (heartbeats): say so instead of showing progress that silently stands still.
  const stall = $("#stalled");
  stall.textContent = stalled ?? "";
  stall.hidden = !stalled;
  const p = job.progress;
  const total = p.total ?? Math.max(p.decoded, 1);
  $("#progress").replaceChildren(
    bar("decoded", p.decoded, total),
    bar("inferred", p.inferred, total),
    bar("written", p.written, total),
    ...(p.failed > 0 ? [bar("failed", p.failed, total)] : []),
  );
  samples.push({ at: Date.now(), done: p.written + p.failed });
  while (samples.length > 10) samples.shift();
  const first = samples[0];
  const last = samples.at(-1);
  const rate = last.at > first.at ? ((last.done - first.done) * 1000) / (last.at - first.at) : 0;
  $("#rates").textContent = terminal.has(job.state)
    ? `${p.written} frames written, ${p.failed} failed`
    : `${rate.toFixed(1)} frames/s${p.total !== null && rate > 0 ? `, about ${Math.ceil((p.total - last.done) / rate)} s left` : ""}`;
  $("#misses").textContent = String(p.deadlineMisses ?? 0);
  const spec = job.spec;
  const facts = [
    ["input", spec.input],
    ["output", job.output],
    ["mode", spec.mode === "latency" ? `latency, ${spec.latencyBudgetMs} ms per frame` : "archive"],
    ["φ allowed", `D${spec.phi.min} … D${spec.phi.max}`],
    [
      "sampling",
      "fps" in spec.sampling ? `${spec.sampling.fps} fps` : `every ${spec.sampling.everyNth}th frame`,
    ],
    ...(job.video
      ? [
          [
            "video",
            `${job.video.width}×${job.video.height}, ${job.video.fps ?? "?"} fps, ${job.video.codec ?? ""}`,
          ],
        ]
      : []),
  ];
  $("#facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const errors = job.errors ?? [];
  $("#errors-card").hidden = errors.length === 0;
  $("#errors").replaceChildren(...errors.map((e) => el("li", {}, `${e.stage}: ${e.message}`)));
  if (!videoSet && job.video) {
    videoSet = true;
    $("#video").src = `${base}/video`;
  }
}

async function loadTracks(phis) {
  const { text, headers } = await api(`${base}/tracks`, { as: "text" });
  tracks = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
  tracksComplete = headers.get("x-vdet-complete") === "true";
  viewer.setTracks(tracks);
  const histogram = drawPhiChart($("#phi-chart"), tracks, phis);
  $("#phi-legend").textContent =
    tracks.length === 0
      ? "no frames written yet"
      : Object.entries(histogram)
          .map(([phi, n]) => `${phi}: ${n} frames`)
          .join(", ");
}

function showSummaries(summary) {
  const perClass = new Map();
  const entry = (label) => {
    if (!perClass.has(label)) perClass.set(label, { tracks: 0, detections: 0, frames: 0 });
    return perClass.get(label);
  };
  for (const [label, n] of Object.entries(summary?.tracksPerClass ?? {})) entry(label).tracks = n;
  for (const frame of tracks) {
    const seen = new Set();
    for (const d of frame.detections) {
      entry(d.label).detections++;
      seen.add(d.label);
    }
    for (const label of seen) entry(label).frames++;
  }
  const classes = [...perClass].sort(
    (a, b) => b[1].tracks - a[1].tracks || b[1].detections - a[1].detections,
  );
  $("#classes tbody").replaceChildren(
    ...classes.map(([label, c]) =>
      el(
        "tr",
        {},
        el("td", {}, label),
        el("td", { class: "num" }, c.tracks),
        el("td", { class: "num" }, c.detections),
        el("td", { class: "num" }, c.frames),
      ),
    ),
  );
  const list = [...(summary?.trackList ?? [])].sort((a, b) => b.length - a.length);
  $("#tracks tbody").replaceChildren(
    ...list
      .slice(0, 100)
      .map((t) =>
        el(
          "tr",
          {},
          el(
            "td",
            {},
            el("span", { class: "swatch", style: `background:${trackColor(t.trackId)}` }),
            `#${t.trackId}`,
          ),
          el("td", {}, t.label),
          el("td", {}, `${t.firstFrame}–${t.lastFrame}`),
          el("td", { class: "num" }, t.length),
          el("td", { class: "num" }, t.meanScore.toFixed(3)),
        ),
      ),
  );
  $("#tracks-note").textContent =
    summary === null
      ? "Track summaries are written when the job ends."
      : `${summary.tracks} tracks${list.length > 100 ? ", the 100 longest shown" : ""}.`;
}

async function poll() {
  try {
    const { jobStates, phis } = await loadMeta();
    const terminal = new Set(jobStates.filter((s) => s.terminal).map((s) => s.state));
    const { job, stalled } = await api(base);
    showJob(job, terminal, stalled);
    if (terminal.has(job.state)) {
      await loadTracks(phis);
      const summary = await api(`${base}/summary`).catch(() => null);
      showSummaries(summary);
      document.body.dataset.ready = "true";
      return;
    }
    if (!tracksComplete) await loadTracks(phis).catch(() => undefined);
    showSummaries(null);
    setTimeout(poll, 1000);
  } catch (error) {
    showNotice(error);
  }
}

for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener("change", () => {
    const preview = radio.value === "preview" && radio.checked;
    viewer.enabled = !preview; // the preview has the boxes burnt in
    $("#video").src = `${base}/${preview ? "preview" : "video"}`;
  });
}
$("#video").addEventListener("error", () => {
  $("#viewer-status").textContent = "this video cannot be played here";
});
$("#trails").addEventListener("change", (e) => {
  viewer.trails = e.target.checked;
  viewer.draw();
});
$("#min-score").addEventListener("input", (e) => {
  viewer.minScore = Number(e.target.value) || 0;
  viewer.draw();
});
void poll();
