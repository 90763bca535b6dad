// Talks to the vdet API with the session cookie (set once by opening any page with ?token=…).

export class Unauthorized extends Error {}

export async function api(path, { as = "json" } = {}) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (response.status === 401) throw new Unauthorized("not signed in");
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const error = new Error(body.error ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  if (as === "text") return { text: await response.text(), headers: response.headers };
  return response.json();
}

let meta = null;

/** The job states (terminal ones marked) and φ names, as the api's protocol defines them (GET /meta, once). */
export function loadMeta() {
  meta ??= api("/meta").catch((error) => {
    meta = null; // try again next time
    throw error;
  });
  return meta;
}

export function showNotice(error) {
  const notice = document.getElementById("notice");
  notice.hidden = false;
  notice.textContent =
    error instanceof Unauthorized
      ? "Not signed in: open this page once with ?token=<your API token> added to its address."
      : `Error: ${error.message}`;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** Same colours as the annotated video (packages/render): golden-ratio hues per track id. */
export function trackColor(trackId) {
  if (trackId === null || trackId === undefined) return "rgb(200,200,200)";
  const hue = (trackId * 0.618033988749895) % 1;
  return `hsl(${Math.round(hue * 360)}, 85%, 50%)`;
}
