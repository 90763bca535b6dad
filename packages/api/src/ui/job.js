// One job: live progress (polls the job API), φ over time and deadline misses, per-class and per-track
// summaries, zone and line counts with their per-minute series (jobs with zones), and the viewer. Sets data-ready on <body> once a finished job's results are all shown.
import { api, el, loadMeta, showNotice, trackColor } from "./api.js";
import { drawPhiChart } from "./charts.js";
import { Viewer } from "./viewer.js";
import { countRows, drawSeries } from "./zones.js";

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

/** A local path as its last two segments (the whole path in the tooltip); URLs as they are. */
function shortLocation(location) {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return location;
  const parts = location.split("/").filter(Boolean);
  const text = parts.length > 2 ? `…/${parts.slice(-2).join("/")}` : location;
  return el("span", { title: location }, text);
}

function showJob(job, terminal, errorSubjects, stalled) {
  // After the last frame, a job with a preview renders it: shown as its own state, with its progress.
  const rendering = !terminal.has(job.state) && job.rendering ? job.rendering : null;
  const shown = rendering ? "rendering" : job.state;
  const state = $("#state");
  state.textContent = shown;
  state.className = `state ${shown}`;
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
    ...(rendering ? [bar("rendering", rendering.done, rendering.total ?? 0)] : []),
  );
  samples.push({ at: Date.now(), done: p.written + p.failed });
  while (samples.length > 10) samples.shift();
  const first = samples[0];
  const last = samples.at(-1);
  const rate = last.at > first.at ? ((last.done - first.done) * 1000) / (last.at - first.at) : 0;
  $("#rates").textContent = terminal.has(job.state)
    ? `${p.written} frames written, ${p.failed} failed`
    : rendering
      ? `rendering preview.mp4: ${rendering.done}${rendering.total === null ? "" : ` of ${rendering.total}`} video frames`
      : `${rate.toFixed(1)} frames/s${p.total !== null && rate > 0 && last.done < p.total ? `, about ${Math.ceil((p.total - last.done) / rate)} s left` : ""}`;
  $("#misses").textContent = String(p.deadlineMisses ?? 0);
  const spec = job.spec;
  const facts = [
    ["input", shortLocation(spec.input)],
    ["output", shortLocation(job.output)],
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
  $("#errors").replaceChildren(
    ...errors.map((e) => el("li", {}, el("strong", {}, `${errorSubjects[e.stage] ?? e.stage}: `), e.message)),
  );
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

/** Jobs with zones: analytics.json (live while the job runs) and events.jsonl for the viewer's counts. */
async function loadAnalytics(job, ended) {
  if (!job.spec.zones) return;
  $("#zones-card").hidden = false;
  const [analytics, events] = await Promise.all([
    api(`${base}/analytics`).catch(() => null),
    api(`${base}/events`, { as: "text" })
      .then(({ text }) =>
        text
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => JSON.parse(line)),
      )
      .catch(() => []),
  ]);
  viewer.setZones(job.spec.zones, events);
  if (!analytics) {
    $("#zones-note").textContent = ended
      ? "No analytics.json: the job ended before writing one."
      : "Counts appear once the first frames are written.";
    return;
  }
  $("#zone-counts tbody").replaceChildren(...countRows(analytics));
  $("#zones-note").textContent =
    `${analytics.frames} frames analysed${ended ? "" : " so far"}, ${events.length} events.`;
  const legend = drawSeries($("#series-chart"), analytics);
  $("#series-legend").replaceChildren(
    ...legend.flatMap((s) => [el("span", { class: "swatch", style: `background:${s.color}` }), `${s.name} `]),
    "(in solid, out pale)",
  );
}

function showSummaries(summary, ended) {
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
      ? ended
        ? "No track summary: the job ended before writing one."
        : "Track summaries are written when the job ends."
      : `${summary.tracks} tracks${list.length > 100 ? ", the 100 longest shown" : ""}.`;
}

/** Which weights made the results (from manifest.json), said plainly when they were untrained. */
function showWeights(manifest) {
  const weights = [...new Set((manifest?.models ?? []).map((m) => m.weights))];
  if (weights.length === 0) return;
  const facts = $("#facts");
  facts.append(el("dt", {}, "weights"), el("dd", {}, weights.join(", ")));
  if (weights.some((w) => w.startsWith("untrained"))) {
    const note = $("#weights-note");
    note.hidden = false;
    note.textContent =
      "These results come from untrained (seeded) weights: the pipeline ran, but the network finds no objects. " +
      "Pull the COCO model on the workers (vdet models pull d0) for real detections.";
  }
}

async function poll() {
  try {
    const { jobStates, phis, errorSubjects } = await loadMeta();
    const terminal = new Set(jobStates.filter((s) => s.terminal).map((s) => s.state));
    const { job, stalled } = await api(base);
    showJob(job, terminal, errorSubjects ?? {}, stalled);
    if (terminal.has(job.state)) {
      await loadTracks(phis).catch(() => undefined);
      await loadAnalytics(job, true).catch(() => undefined);
      const summary = await api(`${base}/summary`).catch(() => null);
      showSummaries(summary, true);
      showWeights(await api(`${base}/manifest`).catch(() => null));
      document.body.dataset.ready = "true";
      return;
    }
    if (!tracksComplete) await loadTracks(phis).catch(() => undefined);
    await loadAnalytics(job, false).catch(() => undefined);
    showSummaries(null, false);
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
