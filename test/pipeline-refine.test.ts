// The offline refinement as a job-spec option (`refine`), through the distributed path over the real Redis: an
// archive job's aggregator writes tracks.refined.mot.txt before manifest.json and lists it there; latency jobs and
// streams that ask for it are refused at submission; `vdet submit --refine` sets the field. Workers simulate D0
// (VDET_SIMULATE_PROFILE: they find the clip's bright box), so the job has a track, and the box hides for a few
// frames so that the refinement has a gap to fill.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RoleProcess, runVdet, stopRoles } from "@vdet/cli/testing";
import { REFINED_MOT_FILE, refineJobTracks } from "@vdet/pipeline";
import { makeLavfiClip } from "@vdet/video/testing";
import { buildLocalApi } from "./support/local-api.ts";
import { startRedisPipeline, startWorkers } from "./support/redis-pipeline.ts";
import { simulatedProfile } from "./support/simulated-profile.ts";
import { waitFor } from "./support/wait.ts";

const pipeline = startRedisPipeline({ prefix: `vdet-refine-${randomUUID().slice(0, 8)}`, segmentFrames: 10 });
const { prefix, transport, jobStore, finished } = pipeline;
const dir = mkdtempSync(join(tmpdir(), "vdet-refine-"));
const token = "integration-test-token-0123456789";
const workers: RoleProcess[] = [];
let clip = "";

before(async () => {
  // A white box crossing a black 160×120 frame at 10 fps for 4 s, hidden from 1.5 s to 1.8 s (3 frames).
  clip = await makeLavfiClip(
    join(dir, "clip.mp4"),
    [
      "color=c=black:s=160x120:r=10:d=4[bg]",
      "color=c=white:s=24x24:r=10[a]",
      "[bg][a]overlay=x='5+t*30':y=40:shortest=1:enable='not(between(t,1.45,1.75))'",
    ].join(";"),
  );
  const profile = join(dir, "profile.json");
  writeFileSync(profile, JSON.stringify(simulatedProfile("refine-test", 5)));
  workers.push(
    ...startWorkers(1, prefix, {
      env: { VDET_LOG_LEVEL: "warn", VDET_SIMULATE_PROFILE: profile },
      echo: (i) => `[worker ${i}] `,
    }),
  );
});

after(async () => {
  await stopRoles(workers);
  await pipeline.close();
  rmSync(dir, { recursive: true, force: true });
});

test("an archive job with refine: tracks.refined.mot.txt written before manifest.json and listed in it", async () => {
  const app = await buildLocalApi({ transport, jobStore, token });
  try {
    const out = join(dir, "refined");
    const response = await app.inject({
      method: "POST",
      url: "/jobs",
      headers: { authorization: `Bearer ${token}` },
      payload: { input: clip, output: out, sampling: { fps: 10 }, refine: true },
    });
    assert.equal(response.statusCode, 201, response.body);
    const id = response.json().job.id as string;
    assert.equal(await waitFor(`job ${id} to finish`, () => finished.get(id), 120_000), "completed");

    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    assert.equal(manifest.spec.refine, true);
    assert.ok(manifest.files.includes(REFINED_MOT_FILE), JSON.stringify(manifest.files));
    const raw = readFileSync(join(out, "tracks.mot.txt"), "utf8");
    const refined = readFileSync(join(out, REFINED_MOT_FILE), "utf8");
    // The box is tracked, and the online output has no rows while it hides.
    const framesOf = (text: string) =>
      new Set(
        text
          .split("\n")
          .filter(Boolean)
          .map((l) => Number(l.split(",")[0])),
      );
    const rawFrames = framesOf(raw);
    assert.ok(rawFrames.size >= 30, `tracked in ${rawFrames.size} of 40 frames`);
    assert.ok(!rawFrames.has(17), "no online row while the box hides");
    // The refinement is @vdet/tracker's over the job's rows at its sampled rate, with the classes of summary.json.
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
      trackList: { trackId: number; class: number }[];
    };
    const classOf = new Map(summary.trackList.map((t) => [t.trackId, t.class]));
    assert.equal(refined, refineJobTracks(raw, classOf, 10).text);
    // … and it filled the hidden frames.
    const refinedFrames = framesOf(refined);
    for (const f of [16, 17, 18]) assert.ok(refinedFrames.has(f), `refined row in frame ${f}`);
  } finally {
    await app.close();
  }
});

test("refine is refused at submission for a latency job and for a stream, naming the field", async () => {
  const app = await buildLocalApi({ transport, jobStore, token });
  try {
    const auth = { authorization: `Bearer ${token}` };
    const job = await app.inject({
      method: "POST",
      url: "/jobs",
      headers: auth,
      payload: { input: clip, output: join(dir, "live"), latencyBudgetMs: 500, refine: true },
    });
    assert.equal(job.statusCode, 400, job.body);
    assert.match(job.json().error, /refine: refine is for archive jobs/);
    const stream = await app.inject({
      method: "POST",
      url: "/streams",
      headers: auth,
      payload: {
        input: "rtsp://127.0.0.1:1/cam",
        output: join(dir, "stream"),
        latencyBudgetMs: 500,
        refine: true,
      },
    });
    assert.equal(stream.statusCode, 400, stream.body);
    assert.match(stream.json().error, /refine is for archive jobs/);
  } finally {
    await app.close();
  }
});

test("vdet submit --refine sets the spec's refine; with --budget the api refuses it, naming refine", async () => {
  const app = await buildLocalApi({ transport, jobStore, token });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    const env = { VDET_API_URL: url, VDET_API_TOKEN: token };
    const out = join(dir, "submitted");
    const archive = await runVdet(["submit", clip, "--out", out, "--max-frames", "3", "--refine", "--json"], {
      env,
    });
    assert.equal(archive.code, 0, archive.stderr);
    const { job } = JSON.parse(archive.stdout);
    assert.equal(job.spec.refine, true);
    assert.equal(await waitFor(`job ${job.id} to finish`, () => finished.get(job.id), 120_000), "completed");
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    assert.ok(manifest.files.includes(REFINED_MOT_FILE), JSON.stringify(manifest.files));
    const live = await runVdet(
      ["submit", clip, "--out", join(dir, "submitted-live"), "--budget", "500", "--refine"],
      {
        env,
      },
    );
    assert.equal(live.code, 1, live.stderr);
    assert.match(live.stderr, /refine: refine is for archive jobs/);
  } finally {
    await app.close();
  }
});
