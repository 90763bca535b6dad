// The route schemas: they validate requests (400s that name the field, 415 before the body is read as a spec),
// the answers match the protocol's schemas they document, /openapi.json is generated from them, and GET /meta
// hands the protocol's states and φ names to the dashboard.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryJobStore } from "@vdet/jobs";
import { JOB_STATES, jobRecordSchema, PHI_VALUES, phiLabel, TERMINAL_STATES } from "@vdet/protocol";
import { createMemoryTransport } from "@vdet/transport";
import { buildServer } from "./server.ts";

const token = "schemas-test-token-0123456789";
const auth = { authorization: `Bearer ${token}` };
const dir = mkdtempSync(join(tmpdir(), "vdet-api-schemas-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function server() {
  return buildServer({
    transport: createMemoryTransport(),
    jobStore: new MemoryJobStore(),
    token,
    allowFileInputs: true,
    allowDirectoryOutputs: true,
    queueMetrics: false,
  });
}

test("GET /meta: the protocol's job states with the terminal ones marked, and every φ with its name", async () => {
  const app = await server();
  assert.equal((await app.inject({ method: "GET", url: "/meta" })).statusCode, 401);
  const meta = (await app.inject({ method: "GET", url: "/meta", headers: auth })).json();
  assert.deepEqual(
    meta.jobStates.map((s: { state: string }) => s.state),
    [...JOB_STATES],
  );
  assert.deepEqual(
    meta.jobStates.filter((s: { terminal: boolean }) => s.terminal).map((s: { state: string }) => s.state),
    [...TERMINAL_STATES],
  );
  assert.deepEqual(
    meta.phis,
    PHI_VALUES.map((phi) => ({ phi, label: phiLabel(phi) })),
  );
  await app.close();
});

test("requests are validated by the route schemas, each failure a 400 that says what to fix", async () => {
  const app = await server();
  const get = (url: string) => app.inject({ method: "GET", url, headers: auth });
  for (const limit of ["0", "501", "2.5", "many"]) {
    const answer = await get(`/jobs?limit=${limit}`);
    assert.equal(answer.statusCode, 400, limit);
    assert.deepEqual(answer.json(), { error: "limit must be an integer from 1 to 500" });
  }
  assert.equal((await get("/jobs?limit=500")).statusCode, 200);
  for (const url of ["/jobs/a.b", "/jobs/a.b/summary", "/jobs/a%20b"]) {
    const answer = await get(url);
    assert.equal(answer.statusCode, 400, url);
    assert.match(answer.json().error, /job ids are letters, digits, _ and -/);
  }
  const notJson = await app.inject({
    method: "POST",
    url: "/jobs",
    headers: { ...auth, "content-type": "text/plain" },
    payload: "input=a.mp4",
  });
  assert.equal(notJson.statusCode, 415);
  const bad = await app.inject({
    method: "POST",
    url: "/jobs",
    headers: auth,
    payload: { input: "a.mp4", output: join(dir, "o"), priority: 11 },
  });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /^invalid job spec: priority: /);
  assert.deepEqual(
    bad.json().issues.map((i: { path: string }) => i.path),
    ["priority"],
  );
  await app.close();
});

test("answers match the schemas they are documented with; /openapi.json is generated from the protocol", async () => {
  const app = await server();
  const created = await app.inject({
    method: "POST",
    url: "/jobs",
    headers: auth,
    payload: { input: join(dir, "a.mp4"), output: join(dir, "out") },
  });
  assert.equal(created.statusCode, 201);
  const job = jobRecordSchema.parse(created.json().job);
  assert.equal(job.spec.priority, 5, "the validated spec, defaults filled in, is what was stored");
  const listed = (await app.inject({ method: "GET", url: "/jobs", headers: auth })).json();
  assert.deepEqual(
    listed.jobs.map((j: unknown) => jobRecordSchema.parse(j).id),
    [job.id],
  );

  const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
  const jobSchema = doc.components.schemas.Job;
  assert.deepEqual(jobSchema.properties.state.enum, [...JOB_STATES]);
  assert.equal(jobSchema.properties.spec.$ref, "#/components/schemas/JobSpec");
  assert.equal(
    doc.paths["/jobs"].post.requestBody.content["application/json"].schema.$ref,
    "#/components/schemas/JobSpec",
  );
  const getJob = doc.paths["/jobs/{id}"].get;
  assert.equal(getJob.parameters[0].schema.pattern, "^[A-Za-z0-9_-]+$");
  assert.equal(
    getJob.responses["200"].content["application/json"].schema.properties.job.$ref,
    "#/components/schemas/Job",
  );
  assert.deepEqual(doc.paths["/jobs"].get.parameters[0].schema, {
    default: 50,
    type: "integer",
    minimum: 1,
    maximum: 500,
  });
  const summary = doc.paths["/jobs/{id}/summary"].get.responses["200"].content["application/json"].schema;
  assert.ok(summary.properties.trackList && summary.properties.tracksPerClass);
  // The dashboard's pages, bull-board and the docs themselves are not api routes.
  assert.deepEqual(
    Object.keys(doc.paths).filter(
      (p) => p.startsWith("/ui") || p.startsWith("/admin") || p.startsWith("/docs"),
    ),
    [],
  );
  await app.close();
});
