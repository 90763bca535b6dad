// The dashboard in a real browser (Debian's chromium, driven by playwright-core): a job submitted through the
// API runs through the pipeline stages while its page is open; the page shows live progress, then the finished
// job's φ chart, class and track summaries, and the viewer plays the source with the boxes drawn over it.
// A failed job's page puts why first, in user terms, with no empty axis or "summaries are written when the job
// ends"; a job rendering its preview shows the `rendering` state with its progress.
// Saves screenshots (and an annotated frame rendered from the same tracks) under test/artifacts/; the README's come
// from here (docs/images/job-page*.png). A job with zones shows its counts, their per-minute series, and the viewer
// draws the zones and lines with the counts as of the playback time; with VDET_DOCS_IMAGES=1 that test also writes
// docs/images/job-page-zones.png (the viewer and the counts, palettized by ffmpeg to keep it small):
// `VDET_DOCS_IMAGES=1 npm test -- test/dashboard --test-name-pattern="with zones"`.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Analytics, analyticsFrame, resolveZones } from "@vdet/analytics";
import { MemoryJobStore } from "@vdet/jobs";
import { withModelMetrics } from "@vdet/pipeline";
import { parseJobSpec, streamSpecSchema } from "@vdet/protocol";
import { parseTracksJsonl, renderAnnotatedVideo } from "@vdet/render";
import { createMemoryTransport } from "@vdet/transport";
import { ffmpegBinaries } from "@vdet/video";
import { chromium, type Page } from "playwright-core";
import { projectFixture } from "./support/fixtures.ts";
import { buildLocalApi } from "./support/local-api.ts";
import { startMemoryPipeline } from "./support/memory-pipeline.ts";

const CHROMIUM = process.env.VDET_CHROMIUM ?? "/usr/bin/chromium";
const artifacts = fileURLToPath(new URL("./artifacts/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-dashboard-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = "dashboard-test-token-0123456789";

test("job page: live progress, φ chart, summaries, and the viewer drawing boxes over the playing video", async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set VDET_CHROMIUM)`;
    if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(`${message}; VDET_REQUIRE_FIXTURES=1`);
    t.skip(message);
    return;
  }
  mkdirSync(artifacts, { recursive: true });
  const pipeline = startMemoryPipeline({
    wrapModels: withModelMetrics,
    maxBatch: 4,
    producer: { framesPerChunk: 2 },
  });
  const { transport, jobStore } = pipeline;
  const app = await buildLocalApi({
    transport,
    jobStore,
    token,
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
  });
  try {
    const clip = projectFixture("video/car-detection.mp4");
    const out = join(dir, "out");
    // Seeded weights: every detection scores about 0.011 (the pipeline is real, the boxes are not meaningful).
    const submitted = await fetch(`${url}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        input: clip,
        output: out,
        sampling: { fps: 2 },
        maxFrames: 16,
        scoreThreshold: 0,
      }),
    });
    assert.equal(submitted.status, 201);
    const { job } = (await submitted.json()) as { job: { id: string } };

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // ?token= once: the api sets the session cookie and redirects to the page without it.
    const response = await page.goto(`${url}/ui/jobs/${job.id}?token=${token}`);
    assert.equal(new URL(page.url()).search, "");
    assert.equal(response?.status(), 200);
    // Live: the progress bars show up while the job is still running.
    await page.waitForSelector('.bar[data-stage="decoded"]', { timeout: 30_000 });
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
    assert.equal(await page.textContent("#state"), "completed");
    assert.equal(await page.textContent('.bar[data-stage="written"] .num'), "16 / 16");
    assert.equal(await page.textContent('.bar[data-stage="inferred"] .num'), "16 / 16");
    assert.match((await page.textContent("#phi-legend")) ?? "", /D0: 16 frames/);
    assert.equal(await page.textContent("#misses"), "0");
    // Per-class summary from the tracks: every detection counted under its class.
    const tracks = parseTracksJsonl(readFileSync(join(out, "tracks.jsonl"), "utf8"));
    const detections = tracks.reduce((n, f) => n + f.detections.length, 0);
    assert.ok(detections > 0);
    // Browser-side code goes as strings: this project type-checks without the DOM library.
    const classCounts = (await page.evaluate(
      `[...document.querySelectorAll("#classes tbody tr")].map((r) => Number(r.cells[2].textContent))`,
    )) as number[];
    assert.equal(
      classCounts.reduce((a, b) => a + b, 0),
      detections,
    );
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.equal(await page.$$eval("#tracks tbody tr", (rows) => rows.length), Math.min(100, summary.tracks));
    assert.match((await page.textContent("#tracks-note")) ?? "", new RegExp(`^${summary.tracks} tracks`));

    // The viewer: the source plays, and at 2.6 s the boxes of sampled frame 5 (pts 2.56 s) are drawn.
    await page.waitForFunction(`document.querySelector("#video").readyState >= 2`, null, { timeout: 30_000 });
    await page.evaluate(`new Promise((resolve) => {
      const video = document.querySelector("#video");
      video.addEventListener("seeked", resolve, { once: true });
      video.currentTime = 2.6;
    })`);
    await page.waitForFunction(`document.querySelector("#overlay").dataset.frame === "5"`, null, {
      timeout: 10_000,
    });
    const expected = tracks.find((f) => f.frame === 5)!.detections.length;
    assert.equal(Number(await page.getAttribute("#overlay", "data-boxes")), expected);
    const painted = (await page.evaluate(`(() => {
      const canvas = document.querySelector("#overlay");
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`)) as number;
    assert.ok(painted > 1000, `${painted} overlay pixels painted`);
    // Which weights made the results, said on the page; no internal path in the facts.
    assert.match((await page.textContent("#facts")) ?? "", /weights\s*untrained \(seeded, seed 0\)/);
    assert.match((await page.textContent("#weights-note")) ?? "", /untrained \(seeded\) weights/);
    assert.doesNotMatch(
      (await page.textContent("#facts")) ?? "",
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
    );
    await page.screenshot({ path: join(artifacts, "job-page.png"), fullPage: true });

    // The job list links to the job.
    await page.goto(`${url}/ui/`);
    await page.waitForSelector(`a[href="/ui/jobs/${job.id}"]`, { timeout: 10_000 });
    await page.screenshot({ path: join(artifacts, "job-list.png") });
    assert.deepEqual(pageErrors, []);

    // The annotated video of the same tracks, and one frame of it as an image.
    const annotated = join(dir, "annotated.mp4");
    const rendered = await renderAnnotatedVideo({ tracks, input: clip, output: annotated, range: "video" });
    assert.ok(rendered.frames > 300);
    await promisify(execFile)(ffmpegBinaries().ffmpegPath, [
      ...["-hide_banner", "-loglevel", "error", "-y", "-ss", "2.6", "-i", annotated],
      ...["-frames:v", "1", join(artifacts, "annotated-job-frame.png")],
    ]);
  } finally {
    await browser.close();
    await app.close();
    await pipeline.close();
  }
});

test("job page: a failed job says why first; a job rendering its preview shows `rendering` with progress", async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set VDET_CHROMIUM)`;
    if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(`${message}; VDET_REQUIRE_FIXTURES=1`);
    t.skip(message);
    return;
  }
  mkdirSync(artifacts, { recursive: true });
  // The states are set in the job store as the stages set them: a producer that could not open the input, and an
  // aggregator rendering preview.mp4 after the last frame.
  const jobStore = new MemoryJobStore();
  const transport = createMemoryTransport();
  const app = await buildLocalApi({ transport, jobStore, token });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const failed = (
      await jobStore.create(
        parseJobSpec({ input: "/videos/cam1/missing.mp4", output: "/results/cam1", sampling: { fps: 2 } }),
      )
    ).job;
    await jobStore.setState(failed.id, "running");
    await jobStore.addError(failed.id, {
      stage: "producer",
      message: "video file does not exist; check the path [input: /videos/cam1/missing.mp4]",
    });
    await jobStore.setState(failed.id, "failed");

    const rendering = (
      await jobStore.create(
        parseJobSpec({
          input: "/videos/cam2/clip.mp4",
          output: "/results/cam2",
          sampling: { fps: 2 },
          preview: true,
        }),
      )
    ).job;
    await jobStore.setState(rendering.id, "running");
    await jobStore.setTotal(rendering.id, 16);
    await jobStore.addProgress(rendering.id, { decoded: 16, inferred: 16, written: 16 });
    await jobStore.setRendering(rendering.id, { done: 120, total: 255 });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${url}/ui/jobs/${failed.id}?token=${token}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    assert.equal(await page.textContent("#state"), "failed");
    // Why, first: the errors card comes before the progress and charts, naming the input, not "producer".
    assert.equal(await page.isVisible("#errors-card"), true);
    const order = (await page.evaluate(`(() => {
      const errors = document.querySelector("#errors-card");
      const progress = document.querySelector("#progress");
      return Boolean(errors.compareDocumentPosition(progress) & Node.DOCUMENT_POSITION_FOLLOWING);
    })()`)) as boolean;
    assert.equal(order, true, "the errors card is above the progress");
    const errorText = (await page.textContent("#errors")) ?? "";
    assert.match(errorText, /^input: video file does not exist/);
    assert.doesNotMatch(errorText, /producer/);
    assert.doesNotMatch((await page.textContent("#tracks-note")) ?? "", /written when the job ends/);
    assert.match((await page.textContent("#tracks-note")) ?? "", /ended before writing one/);
    assert.match((await page.textContent("#phi-legend")) ?? "", /no frames written yet/);
    await page.screenshot({ path: join(artifacts, "job-page-failed.png") });

    await page.goto(`${url}/ui/jobs/${rendering.id}`);
    await page.waitForSelector('.bar[data-stage="rendering"]', { timeout: 30_000 });
    assert.equal(await page.textContent("#state"), "rendering");
    assert.equal(await page.textContent('.bar[data-stage="rendering"] .num'), "120 / 255");
    assert.match(
      (await page.textContent("#rates")) ?? "",
      /^rendering preview\.mp4: 120 of 255 video frames$/,
    );
    assert.doesNotMatch((await page.textContent("#rates")) ?? "", /s left/);
    await page.screenshot({ path: join(artifacts, "job-page-rendering.png") });
    // When it ends, the page says so.
    await jobStore.setRendering(rendering.id, null);
    await jobStore.setState(rendering.id, "completed");
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    assert.equal(await page.textContent("#state"), "completed");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await app.close();
  }
});

test("stream list: each stream's state, frame rates in and out, deadlines met and φ, updated as they change", async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set VDET_CHROMIUM)`;
    if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(`${message}; VDET_REQUIRE_FIXTURES=1`);
    t.skip(message);
    return;
  }
  // The figures are set in the job store as the aggregator sets them (test/streams-api.test.ts measures real ones).
  const jobStore = new MemoryJobStore();
  const transport = createMemoryTransport();
  const app = await buildLocalApi({ transport, jobStore, token });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const add = async (name: string, input: string) =>
      (
        await jobStore.create(
          streamSpecSchema.parse({ input, output: `/results/${name}`, latencyBudgetMs: 400, name }),
        )
      ).job;
    const door = await add("front door", "rtsp://127.0.0.1:8554/door");
    const yard = await add("yard", "http://127.0.0.1:8080/yard/index.m3u8");
    await jobStore.setState(door.id, "running");
    await jobStore.addProgress(door.id, { decoded: 40 });
    await jobStore.setStreamStats(door.id, {
      atMs: Date.now(),
      fpsIn: 5,
      fpsOut: 4.5,
      deadlineHitRate: 0.9,
      phi: 1,
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${url}/ui/?token=${token}`);
    const row = (id: string, cell: string) => page.textContent(`tr[data-stream="${id}"] ${cell}`);
    await page.waitForSelector(`tr[data-stream="${door.id}"]`, { timeout: 30_000 });
    assert.equal(await row(door.id, ".state"), "live");
    assert.equal(await row(door.id, ".fps-in"), "5.0");
    assert.equal(await row(door.id, ".fps-out"), "4.5");
    assert.equal(await row(door.id, ".hit-rate"), "90.0 %");
    assert.equal(await row(door.id, ".phi"), "1");
    assert.equal(await row(yard.id, ".state"), "connecting");
    assert.equal(await row(yard.id, ".fps-in"), "–");
    await page.screenshot({ path: join(artifacts, "streams-list.png") });
    // Removed: the row says stopped once the job has ended (the list refreshes every 2 s).
    await jobStore.requestCancel(door.id);
    await jobStore.setState(door.id, "cancelled");
    await page.waitForSelector(`tr[data-stream="${door.id}"] .state.stopped`, { timeout: 30_000 });
    assert.equal(await row(door.id, ".fps-in"), "–");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await app.close();
  }
});

test("job page with zones: counts per zone / line and class, the per-minute series, and the viewer drawing the zones with the counts as of playback", async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set VDET_CHROMIUM)`;
    if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(`${message}; VDET_REQUIRE_FIXTURES=1`);
    t.skip(message);
    return;
  }
  mkdirSync(artifacts, { recursive: true });
  // A finished job's output as the aggregator leaves it, from the docs' track of the white car (a brightness
  // threshold, scripts/docs-car-track.mjs: the weights here are untrained) and the docs' zones file.
  const clip = projectFixture("video/car-detection.mp4");
  const zonesJson = JSON.parse(
    readFileSync(new URL("../docs/car-detection.zones.json", import.meta.url), "utf8"),
  );
  const tracksText = readFileSync(new URL("../docs/car-detection.tracks.jsonl", import.meta.url), "utf8");
  const out = join(dir, "zones-out");
  mkdirSync(out, { recursive: true });
  const spec = parseJobSpec({ input: clip, output: out, sampling: { fps: 5 }, zones: zonesJson });
  const analytics = new Analytics(resolveZones(spec.zones!, { width: 768, height: 432 }));
  const events = parseTracksJsonl(tracksText).flatMap((f) => analytics.update(analyticsFrame(f)));
  writeFileSync(join(out, "tracks.jsonl"), tracksText);
  writeFileSync(join(out, "events.jsonl"), events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  writeFileSync(join(out, "analytics.json"), `${JSON.stringify(analytics.summary(), null, 2)}\n`);
  const jobStore = new MemoryJobStore();
  const transport = createMemoryTransport();
  const { job } = await jobStore.create(spec);
  writeFileSync(join(out, "summary.json"), `${JSON.stringify(summaryOf(job.id, tracksText), null, 2)}\n`);
  await jobStore.setVideo(job.id, { width: 768, height: 432, fps: 12.5, durationMs: 30_208, codec: "h264" });
  await jobStore.setState(job.id, "running");
  await jobStore.setTotal(job.id, 50);
  await jobStore.addProgress(job.id, { decoded: 50, inferred: 50, written: 50 });
  await jobStore.setState(job.id, "completed");
  const app = await buildLocalApi({ transport, jobStore, token });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1300 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${url}/ui/jobs/${job.id}?token=${token}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    assert.equal(await page.isVisible("#zones-card"), true);
    const rows = (await page.evaluate(
      `[...document.querySelectorAll("#zone-counts tbody tr")].map((r) => [...r.cells].map((c) => c.textContent).join(" "))`,
    )) as string[];
    assert.deepEqual(rows, [
      "zone bay all 1 1 0 1 1.6 s",
      "zone bay car 1 1 0 1 1.6 s",
      "line midline all 0 1   ",
      "line midline car 0 1   ",
    ]);
    assert.match((await page.textContent("#zones-note")) ?? "", /^50 frames analysed, 3 events\.$/);
    assert.match((await page.textContent("#series-legend")) ?? "", /zone bay .*line midline/);
    // The series chart has bars: the in bar of zone bay and the out bars, in minute 0.
    const barPixels = (await page.evaluate(`(() => {
      const canvas = document.querySelector("#series-chart");
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 200 && data[i] < 80) n++;
      return n;
    })()`)) as number;
    assert.ok(barPixels > 100, `${barPixels} blue bar pixels`);

    // The viewer: zones and line over the video, with the counts as of the playback time.
    await page.waitForFunction(`document.querySelector("#video").readyState >= 2`, null, { timeout: 30_000 });
    const seek = (s: number) =>
      page.evaluate(`new Promise((resolve) => {
        const video = document.querySelector("#video");
        video.addEventListener("seeked", () => requestAnimationFrame(() => resolve()), { once: true });
        video.currentTime = ${s};
      })`);
    const zonesAt = async (s: number, expected: string) => {
      await seek(s);
      await page.waitForFunction(
        `document.querySelector("#overlay").dataset.zones === ${JSON.stringify(expected)}`,
        null,
        {
          timeout: 10_000,
        },
      );
    };
    await zonesAt(1, "bay in 0 out 0 now 0 | midline in 0 out 0");
    await zonesAt(7.3, "bay in 1 out 0 now 1 | midline in 0 out 1");
    await page.screenshot({ path: join(artifacts, "job-page-zones.png"), fullPage: true });
    if (process.env.VDET_DOCS_IMAGES === "1") await writeDocsImage(page, "job-page-zones.png");
    await zonesAt(8.5, "bay in 1 out 1 now 0 | midline in 0 out 1");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await app.close();
  }
});

/** summary.json of a tracks.jsonl, as the aggregator writes it (job-report.ts's jobSummary). */
function summaryOf(jobId: string, tracksText: string) {
  const tracks = new Map<
    number,
    {
      trackId: number;
      class: number;
      label: string;
      firstFrame: number;
      lastFrame: number;
      length: number;
      scoreSum: number;
    }
  >();
  for (const frame of parseTracksJsonl(tracksText))
    for (const d of frame.detections) {
      if (d.trackId === null) continue;
      const t = tracks.get(d.trackId);
      if (t) {
        t.lastFrame = frame.frame;
        t.length++;
        t.scoreSum += d.score;
      } else
        tracks.set(d.trackId, {
          trackId: d.trackId,
          class: d.class,
          label: d.label ?? String(d.class),
          firstFrame: frame.frame,
          lastFrame: frame.frame,
          length: 1,
          scoreSum: d.score,
        });
    }
  const trackList = [...tracks.values()].map(({ scoreSum, ...t }) => ({
    ...t,
    meanScore: Math.round((scoreSum / t.length) * 1e4) / 1e4,
  }));
  const tracksPerClass: Record<string, number> = {};
  for (const t of trackList) tracksPerClass[t.label] = (tracksPerClass[t.label] ?? 0) + 1;
  return { jobId, tracks: trackList.length, tracksPerClass, trackList };
}

/**
 * docs/images/<name>: the job page from its viewer to the zones' counts, at the page's size, palettized to 128
 * colours by ffmpeg (a screenshot with a video frame in it is otherwise ≈ 200 KB).
 */
async function writeDocsImage(page: Page, name: string): Promise<void> {
  const clip = (await page.evaluate(`(() => {
    const top = document.querySelector("#video").closest("section").getBoundingClientRect();
    const bottom = document.querySelector("#zones-card").getBoundingClientRect();
    return { x: 0, y: top.top + window.scrollY - 8, width: document.documentElement.clientWidth, height: bottom.bottom - top.top + 16 };
  })()`)) as { x: number; y: number; width: number; height: number };
  const raw = join(dir, `raw-${name}`);
  await page.screenshot({ path: raw, clip, fullPage: true });
  await promisify(execFile)(ffmpegBinaries().ffmpegPath, [
    ...["-hide_banner", "-loglevel", "error", "-y", "-i", raw],
    ...["-vf", "split[a][b];[a]palettegen=max_colors=128:stats_mode=full[p];[b][p]paletteuse=dither=none"],
    fileURLToPath(new URL(`../docs/images/${name}`, import.meta.url)),
  ]);
}
