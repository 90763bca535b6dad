// Relative paths: `vdet submit` makes them absolute on the client (the api, producer and aggregator run in
// directories of their own), and the api refuses relative local inputs and outputs with a 400 naming them, as
// docs/reliability.md says. `submit --wait` prints the job's errors in user terms.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runVdet } from "@vdet/cli/testing";
import { MemoryJobStore } from "@vdet/jobs";
import { createMemoryTransport } from "@vdet/transport";
import { buildLocalApi } from "./support/local-api.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-relative-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = "relative-paths-token-0123456789";

test("relative inputs and outputs: absolute from submit, 400 from the api", {
  timeout: 120_000,
}, async () => {
  const jobStore = new MemoryJobStore();
  const app = await buildLocalApi({ transport: createMemoryTransport(), jobStore, token });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    const post = (body: object) =>
      fetch(`${url}/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ sampling: { fps: 1 }, ...body }),
      });
    const relativeInput = await post({ input: "videos/a.mp4", output: join(dir, "o1") });
    assert.equal(relativeInput.status, 400);
    assert.match(
      ((await relativeInput.json()) as { error: string }).error,
      /input: local file inputs must be absolute paths/,
    );
    const relativeOutput = await post({ input: join(dir, "a.mp4"), output: "results/x" });
    assert.equal(relativeOutput.status, 400);
    assert.match(
      ((await relativeOutput.json()) as { error: string }).error,
      /output: directory outputs must be absolute paths/,
    );

    // The CLI sends what the user meant: both made absolute against its own working directory.
    const { code, stdout, stderr } = await runVdet(
      ["submit", "videos/a.mp4", "--out", "results/x", "--max-frames", "3", "--json"],
      { cwd: dir, env: { VDET_API_URL: url, VDET_API_TOKEN: token } },
    );
    assert.equal(code, 0, stderr);
    const { job } = JSON.parse(stdout);
    assert.equal(job.spec.input, join(dir, "videos/a.mp4"));
    assert.equal(job.output, join(dir, "results/x"));
    assert.equal(job.spec.maxFrames, 3);

    // No token: the CLI names VDET_API_TOKEN and --token.
    const refused = await runVdet(["status", job.id], { env: { VDET_API_URL: url, VDET_API_TOKEN: "" } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the request \(401\).*set VDET_API_TOKEN or pass --token/);

    // A failed job: `submit --wait`'s output says why, in user terms, before the outcome.
    await jobStore.addError(job.id, {
      stage: "producer",
      message: "video file does not exist; check the path",
    });
    await jobStore.setState(job.id, "failed");
    const waited = await runVdet(
      ["submit", "videos/a.mp4", "--out", "results/x", "--max-frames", "3", "--wait"],
      { cwd: dir, env: { VDET_API_URL: url, VDET_API_TOKEN: token } },
    );
    assert.equal(waited.code, 1);
    assert.match(waited.stderr, /^error: input: video file does not exist; check the path$/m);
    assert.doesNotMatch(waited.stderr, /producer/);
    assert.match(waited.stdout, new RegExp(`^${job.id} failed: 0 frames written$`, "m"));
  } finally {
    await app.close();
  }
});
