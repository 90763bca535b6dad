// The job list: newest first, refreshed every two seconds, one page at a time.
import { api, el, showNotice } from "./api.js";

const body = document.querySelector("#jobs tbody");
const more = document.getElementById("more");
let pages = 1;

function progressText(p) {
  const done = p.written + p.failed;
  return p.total === null ? `${done} frames` : `${done}/${p.total} frames`;
}

async function refresh() {
  try {
    const rows = [];
    let after = null;
    let next = null;
    for (let page = 0; page < pages; page++) {
      const result = await api(`/jobs?limit=50${after ? `&after=${encodeURIComponent(after)}` : ""}`);
      rows.push(...result.jobs);
      next = result.next;
      if (!next) break;
      after = next;
    }
    body.replaceChildren(
      ...rows.map((job) =>
        el(
          "tr",
          {},
          el("td", {}, el("a", { href: `/ui/jobs/${encodeURIComponent(job.id)}` }, job.id)),
          el("td", {}, el("span", { class: `state ${job.state}` }, job.state)),
          el("td", {}, progressText(job.progress)),
          el("td", {}, job.spec.input),
          el("td", {}, new Date(job.createdAtMs).toLocaleString()),
        ),
      ),
    );
    more.hidden = !next;
  } catch (error) {
    showNotice(error);
  }
}

more.addEventListener("click", () => {
  pages++;
  void refresh();
});
await refresh();
setInterval(refresh, 2000);
