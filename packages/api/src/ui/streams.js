// The stream list (GET /streams): each stream's state, frame rates in and out, share of deadlines met and φ,
// refreshed every two seconds. A stream's id links to its job page (a stream is a job underneath).
import { api, el, showNotice } from "./api.js";

const body = document.querySelector("#streams tbody");

const rate = (fps) => (fps === null ? "–" : fps.toFixed(1));
const share = (r) => (r === null ? "–" : `${(r * 100).toFixed(1)} %`);

async function refresh() {
  try {
    const streams = [];
    let after = null;
    do {
      const page = await api(`/streams?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`);
      streams.push(...page.streams);
      after = page.next;
    } while (after);
    if (streams.length === 0) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "no streams")));
      return;
    }
    body.replaceChildren(
      ...streams.map((s) =>
        el(
          "tr",
          { "data-stream": s.id },
          el("td", {}, el("a", { href: `/ui/jobs/${encodeURIComponent(s.id)}` }, s.name ?? s.id)),
          el("td", {}, el("span", { class: `state ${s.state}` }, s.state)),
          el("td", { class: "fps-in" }, rate(s.fpsIn)),
          el("td", { class: "fps-out" }, rate(s.fpsOut)),
          el("td", { class: "hit-rate" }, share(s.deadlineHitRate)),
          el("td", { class: "phi" }, s.phi ?? "–"),
          el("td", {}, s.input),
        ),
      ),
    );
  } catch (error) {
    showNotice(error);
  }
}

await refresh();
setInterval(refresh, 2000);
