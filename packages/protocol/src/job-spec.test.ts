import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidJobSpecError, overloadOf, parseJobSpec } from "./job-spec.ts";
import { frameChunkSchema, PoisonMessageError, parseMessage } from "./messages.ts";
import { streamSpecSchema } from "./stream.ts";

const minimal = { input: "clips/a.mp4", output: "out/a" };

describe("job spec", () => {
  test("defaults: 5 fps, archive mode, D0 only, score 0.3, priority 5", () => {
    const spec = parseJobSpec(minimal);
    assert.deepEqual(spec.sampling, { fps: 5 });
    assert.equal(spec.mode, "archive");
    assert.deepEqual(spec.phi, { min: 0, max: 0 });
    assert.equal(spec.scoreThreshold, 0.3);
    assert.equal(spec.priority, 5);
  });

  test("a latency budget implies latency mode; φ accepts 3, '3', 'd3', '7x'", () => {
    const spec = parseJobSpec({ ...minimal, latencyBudgetMs: 200, phi: { min: "d1", max: "7x" } });
    assert.equal(spec.mode, "latency");
    assert.deepEqual(spec.phi, { min: 1, max: "7x" });
    assert.deepEqual(parseJobSpec({ ...minimal, phi: { min: 3, max: "3" } }).phi, { min: 3, max: 3 });
  });

  test("refine is an archive option; a latency job may say refine: false", () => {
    assert.equal(parseJobSpec({ ...minimal, refine: true }).refine, true);
    assert.equal(parseJobSpec({ ...minimal, latencyBudgetMs: 200, refine: false }).refine, false);
  });

  test("a stream with refine is refused, naming the field", () => {
    const result = streamSpecSchema.safeParse({
      input: "rtsp://127.0.0.1/cam",
      output: "out/cam",
      latencyBudgetMs: 400,
      refine: true,
    });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((i) => [i.path.join("."), /archive jobs/.test(i.message)]),
      [["refine", true]],
    );
  });

  test("remote inputs and S3 outputs", () => {
    for (const input of ["s3://b/k.mp4", "https://h/v.mp4", "rtsp://cam/1", "http://h/live.m3u8"]) {
      assert.equal(parseJobSpec({ ...minimal, input }).input, input);
    }
    assert.equal(parseJobSpec({ ...minimal, output: "s3://bucket/prefix" }).output, "s3://bucket/prefix");
  });

  const bad: [string, unknown, RegExp][] = [
    ["missing input", { output: "o" }, /input: /],
    ["empty input", { input: " ", output: "o" }, /input: input must not be empty/],
    [
      "ffmpeg concat protocol",
      { input: "concat:a.mp4|b.mp4", output: "o" },
      /input: .*concat: or file: are not accepted/,
    ],
    ["file: protocol", { input: "file:/etc/passwd", output: "o" }, /input: /],
    ["negative fps", { ...minimal, sampling: { fps: -1 } }, /sampling/],
    ["fps and everyNth together", { ...minimal, sampling: { fps: 1, everyNth: 2 } }, /sampling/],
    [
      "budget in archive mode",
      { ...minimal, mode: "archive", latencyBudgetMs: 100 },
      /latencyBudgetMs: archive mode/,
    ],
    ["latency mode without budget", { ...minimal, mode: "latency" }, /latencyBudgetMs: .*required/],
    ["budget as a string", { ...minimal, latencyBudgetMs: "200ms" }, /latencyBudgetMs/],
    ["φ out of range", { ...minimal, phi: { min: 0, max: 9 } }, /phi\.max: unknown φ "9"/],
    ["φ range reversed", { ...minimal, phi: { min: 4, max: 2 } }, /phi: phi.min must not be above phi.max/],
    ["score above 1", { ...minimal, scoreThreshold: 1.5 }, /scoreThreshold/],
    [
      "throughput target on a latency job",
      { ...minimal, latencyBudgetMs: 200, throughput: { framesPerSecond: 10 } },
      /throughput: a throughput target is for archive mode/,
    ],
    [
      "both throughput targets",
      { ...minimal, throughput: { framesPerSecond: 10, finishBy: "2026-12-01T00:00:00Z" } },
      /throughput: give framesPerSecond or finishBy, not both or neither/,
    ],
    [
      "refine on a latency job",
      { ...minimal, latencyBudgetMs: 200, refine: true },
      /refine: refine is for archive jobs/,
    ],
    ["refine as a string", { ...minimal, refine: "yes" }, /refine/],
    ["finishBy without an offset", { ...minimal, throughput: { finishBy: "2026-12-01 00:00" } }, /finishBy/],
    ["zero target fps", { ...minimal, throughput: { framesPerSecond: 0 } }, /framesPerSecond/],
    [
      "path traversal in output",
      { ...minimal, output: "out/../../etc" },
      /output: output must not contain '\.\.'/,
    ],
    ["foreign output scheme", { ...minimal, output: "gs://b/p" }, /output: /],
    ["unicode idempotency key", { ...minimal, idempotencyKey: "clé" }, /idempotencyKey/],
    ["unknown field", { ...minimal, colour: "red" }, /colour|Unrecognized/],
    ["huge priority", { ...minimal, priority: 1e9 }, /priority/],
    ["not an object", "input=a.mp4", /expected object/],
  ];
  for (const [name, value, pattern] of bad) {
    test(`rejects ${name}, naming the field`, () => {
      assert.throws(
        () => parseJobSpec(value),
        (e: Error) => e instanceof InvalidJobSpecError && pattern.test(e.message),
      );
    });
  }
});

test("messages that fail their schema are poison, with the field named", () => {
  assert.throws(
    () => parseMessage(frameChunkSchema, "frame chunk", { jobId: "j1", chunk: -1 }),
    (e: Error) => e instanceof PoisonMessageError && /invalid frame chunk message: chunk: /.test(e.message),
  );
});

test("zones and lines in the job spec: defaults filled in, every bad shape named at submission", () => {
  const spec = parseJobSpec({
    ...minimal,
    zones: {
      zones: [
        {
          name: "door",
          polygon: [
            [0, 0],
            [10, 0],
            [10, 10],
          ],
          classes: ["person"],
        },
      ],
      lines: [{ name: "gate", from: [0, 5], to: [10, 5] }],
    },
  });
  assert.equal(spec.zones?.anchor, "bottom-center");
  assert.equal(spec.zones?.inertiaFrames, 3);
  assert.equal(spec.zones?.coordinates, "pixels");
  assert.equal(parseJobSpec(minimal).zones, undefined, "no zones: no analytics");
  const refused = (zones: unknown) => {
    try {
      parseJobSpec({ ...minimal, zones });
    } catch (error) {
      assert.ok(error instanceof InvalidJobSpecError);
      return error.message;
    }
    assert.fail("accepted");
  };
  assert.match(
    refused({
      zones: [
        {
          name: "bow",
          polygon: [
            [0, 0],
            [10, 10],
            [10, 0],
            [0, 10],
          ],
        },
      ],
    }),
    /zones\.zones\.0\.polygon: zone "bow" is not a simple polygon/,
  );
  assert.match(
    refused({
      zones: [
        {
          name: "ring",
          polygon: [
            [0, 0],
            [9, 0],
            [9, 9],
          ],
          holes: [
            [
              [1, 1],
              [2, 1],
              [2, 2],
            ],
          ],
        },
      ],
    }),
    /zones\.zones\.0\.holes: zone "ring": polygons with holes are not supported/,
  );
  assert.match(
    refused({ lines: [{ name: "dot", from: [1, 1], to: [1, 1] }] }),
    /zones\.lines\.0\.to: .*zero-length/,
  );
  assert.match(refused({}), /zones: the zones file defines no zone and no line/);
});

test("overload: drop by default for live inputs, queue for files; notify needs a target and a valid ARN", () => {
  const spec = (input: string, more: object = {}) =>
    parseJobSpec({ input, output: "out", latencyBudgetMs: 400, ...more });
  assert.equal(overloadOf(spec("rtsp://cam.example/live")), "drop");
  assert.equal(overloadOf(spec("https://cdn.example/live/index.m3u8?token=1")), "drop");
  assert.equal(overloadOf(spec("https://cdn.example/clip.mp4")), "queue");
  assert.equal(overloadOf(spec("/videos/clip.mp4")), "queue");
  assert.equal(overloadOf(spec("rtsp://cam.example/live", { overload: "queue" })), "queue");
  assert.throws(() => spec("a.mp4", { overload: "shed" }), /overload/);
  assert.throws(() => spec("a.mp4", { notify: {} }), /notify needs a webhook, an snsTopicArn, or both/);
  assert.throws(() => spec("a.mp4", { notify: { snsTopicArn: "arn:aws:s3:::bucket" } }), /SNS topic ARN/);
  assert.throws(() => spec("a.mp4", { notify: { webhook: "ftp://x/y" } }), /http\(s\):\/\/ URL/);
  assert.deepEqual(
    spec("a.mp4", { notify: { snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:jobs.fifo" } }).notify,
    {
      snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:jobs.fifo",
    },
  );
});
