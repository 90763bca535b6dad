// The dashboard's own pages: plain HTML, CSS and ES modules from ./ui, no build step and no framework.
// /ui/ lists streams and jobs, /ui/jobs/<id> shows one job (a stream's too); the pages read everything through the JSON API.

import { readFile } from "node:fs/promises";
import type { FastifyInstance } from "fastify";

const UI_DIR = new URL("./ui/", import.meta.url);
const ASSETS: Record<string, string> = {
  "style.css": "text/css; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "list.js": "text/javascript; charset=utf-8",
  "streams.js": "text/javascript; charset=utf-8",
  "job.js": "text/javascript; charset=utf-8",
  "viewer.js": "text/javascript; charset=utf-8",
  "charts.js": "text/javascript; charset=utf-8",
  "zones.js": "text/javascript; charset=utf-8",
};

const page = (name: string) => readFile(new URL(name, UI_DIR));

export function registerUi(app: FastifyInstance): void {
  app.get("/", async (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui", async (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui/", async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(await page("index.html")),
  );
  app.get("/ui/jobs/:id", async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(await page("job.html")),
  );
  app.get<{ Params: { file: string } }>("/ui/assets/:file", async (request, reply) => {
    const type = ASSETS[request.params.file];
    if (!type) return reply.code(404).send({ error: "no such asset" });
    return reply
      .type(type)
      .header("cache-control", "no-cache")
      .send(await page(request.params.file));
  });
}
