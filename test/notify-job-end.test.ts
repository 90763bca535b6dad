// A job's end reaches its notify webhook, signed, through the aggregator's onJobFinished as the aggregator role
// wires it (notifyJobEnds), and the api shows the deliveries at GET /jobs/:id/notifications. The job is cancelled
// while queued, so nothing needs a model.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { buildServer } from "@vdet/api";
import { InputPolicy } from "@vdet/input-policy";
import { MemoryJobStore, MemoryNotificationStore } from "@vdet/jobs";
import { Notifier, notifyJobEnds, SIGNATURE_HEADER, verifySignature } from "@vdet/notify";
import { openJobOutput, startAggregator, startProducer } from "@vdet/pipeline";
import { parseJobSpec } from "@vdet/protocol";
import { createMemoryTransport } from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-notify-job-end-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "notify-job-end-secret-0123456789";
const token = "notify-job-end-token-0123456789";

test("a job's end is sent to its webhook, signed, and the api lists the delivery attempts", async () => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      // The first attempt fails: the log shows the retry.
      res.writeHead(received.length === 1 ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  after(() => new Promise<void>((resolve) => hook.close(() => resolve())));
  const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/vdet`;

  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const store = new MemoryNotificationStore();
  const policy = new InputPolicy({ allowFileInputs: true, allowAddresses: ["127.0.0.1/32"] });
  const notifier = new Notifier({ store, policy, secret: SECRET, baseDelayMs: 10 });
  const spec = parseJobSpec({
    input: clip,
    output: join(dir, "out"),
    notify: { webhook, tag: "nightly" },
  });
  const { job } = await jobStore.create(spec);
  await transport.jobs.add({ jobId: job.id }, { id: job.id });
  assert.equal(await jobStore.requestCancel(job.id), true);

  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, location) => openJobOutput(location),
    onJobFinished: notifyJobEnds(notifier, jobStore),
  });
  const producer = startProducer({ transport, jobStore, framesPerChunk: 4 });
  const app = await buildServer({
    transport,
    jobStore,
    token,
    inputPolicy: policy,
    allowDirectoryOutputs: true,
    notifications: store,
    queueMetrics: false,
  });
  try {
    await waitFor("the webhook's second attempt", () => received.length >= 2, 30_000, 25);
    const body = JSON.parse(received[1].body);
    assert.ok(verifySignature(SECRET, received[1].body, received[1].headers[SIGNATURE_HEADER] as string));
    assert.equal(body.type, "job.cancelled");
    assert.equal(body.id, `job:${job.id}:cancelled`);
    assert.equal(body.tag, "nightly");
    assert.deepEqual(body.subject, { kind: "job", id: job.id });

    // The receiver has the second attempt; the notifier logs it once the response is in: wait for the entry.
    const deliveries = await waitFor(
      "the second attempt in the delivery log",
      async () => {
        const res = await app.inject({
          method: "GET",
          url: `/jobs/${job.id}/notifications`,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.statusCode, 200);
        const log = res.json().deliveries;
        return log.length >= 2 ? log : undefined;
      },
      30_000,
      25,
    );
    assert.deepEqual(
      deliveries.map((d: { attempt: number; ok: boolean; status: number }) => [d.attempt, d.ok, d.status]),
      [
        [1, false, 500],
        [2, true, 200],
      ],
    );
    const missing = await app.inject({
      method: "GET",
      url: "/jobs/job_nosuchjob/notifications",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(missing.statusCode, 404);
  } finally {
    await app.close();
    await producer.close();
    await aggregator.close();
    await notifier.close();
    await transport.close();
  }
});

test("the api refuses a job whose webhook is in a forbidden range", async () => {
  const app = await buildServer({
    transport: createMemoryTransport(),
    jobStore: new MemoryJobStore(),
    token,
    inputPolicy: new InputPolicy(),
    queueMetrics: false,
  });
  try {
    const res = await app.inject({
      method: "POST",
      url: "/jobs",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: {
        input: "s3://bucket/clip.mp4",
        output: "s3://bucket/out/",
        notify: { webhook: "https://127.0.0.1:9/hook" },
      },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /notify\.webhook: webhook host 127\.0\.0\.1 is not allowed: .*loopback/);
  } finally {
    await app.close();
  }
});
