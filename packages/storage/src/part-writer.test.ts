import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startTestS3, type TestS3 } from "../testing/s3rver.ts";
import { ObjectConflictError, PartsMissingError } from "./errors.ts";
import { LocalDirSink } from "./local-dir-sink.ts";
import { PartWriter } from "./part-writer.ts";
import { S3Sink } from "./s3-sink.ts";
import type { Sink } from "./sink.ts";

/** One JSONL line per frame, ~60 bytes each. */
const line = (frame: number) => `${JSON.stringify({ frame, ptsMs: frame * 200, phi: 0, detections: [] })}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line(from + i));

async function keysOf(sink: Sink, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of sink.list(prefix)) keys.push(...page.map((o) => o.key));
  return keys.sort();
}

const text = async (sink: Sink, key: string) => Buffer.from(await sink.get(key)).toString("utf8");

function partWriterSuite(newSink: () => Promise<Sink>): void {
  test("writes numbered parts of whole lines, then one final object, then removes the parts", async () => {
    const sink = await newSink();
    const writer = await PartWriter.open(sink, { key: "tracks.jsonl", partSizeBytes: 1000 });
    for (const l of lines(0, 100)) await writer.append(l);
    assert.ok(writer.partsWritten >= 4, `${writer.partsWritten} parts`);
    const parts = await keysOf(sink, "tracks/");
    assert.deepEqual(
      parts,
      Array.from(
        { length: writer.partsWritten },
        (_, i) => `tracks/part-${String(i + 1).padStart(6, "0")}.jsonl`,
      ),
    );
    for (const key of parts) {
      const body = await text(sink, key);
      assert.ok(
        body.endsWith("\n") && body.length >= 1000,
        "a part holds whole lines, at least partSizeBytes",
      );
      for (const l of body.trimEnd().split("\n")) JSON.parse(l);
    }
    assert.equal(await sink.exists("tracks.jsonl"), false, "nothing final before finish()");

    const lastPart = writer.bufferedBytes > 0 ? 1 : 0;
    const result = await writer.finish();
    const expected = lines(0, 100).join("");
    assert.equal(await text(sink, "tracks.jsonl"), expected);
    assert.deepEqual(result, { parts: parts.length + lastPart, sizeBytes: expected.length });
    assert.deepEqual(await keysOf(sink), ["tracks.jsonl"]);
    assert.deepEqual(await writer.finish(), result, "finish() again changes nothing");
    await assert.rejects(writer.append(line(100)), /already finished/);
  });

  test("resuming from a checkpoint drops parts written after it and gives the uninterrupted bytes", async () => {
    const sink = await newSink();
    const options = { key: "out/tracks.jsonl", partSizeBytes: 500 };
    const first = await PartWriter.open(sink, options);
    for (const l of lines(0, 30)) await first.append(l);
    const checkpoint = { partsWritten: await first.flush(), nextFrame: 30 };
    for (const l of lines(30, 60)) await first.append(l); // written, then the process dies before checkpointing
    assert.ok(first.partsWritten > checkpoint.partsWritten);
    const partsBeforeCrash = await keysOf(sink, "out/tracks/");

    const resumed = await PartWriter.open(sink, { ...options, partsWritten: checkpoint.partsWritten });
    assert.deepEqual(
      await keysOf(sink, "out/tracks/"),
      partsBeforeCrash.slice(0, checkpoint.partsWritten),
      "parts past the checkpoint are gone",
    );
    // Different boundaries this time (a flush mid-way), as a timer-driven checkpoint might make.
    for (const l of lines(checkpoint.nextFrame, 45)) await resumed.append(l);
    await resumed.flush();
    for (const l of lines(45, 80)) await resumed.append(l);
    await resumed.finish();
    assert.equal(await text(sink, "out/tracks.jsonl"), lines(0, 80).join(""));
    assert.deepEqual(await keysOf(sink), ["out/tracks.jsonl"]);
  });

  test("a part written again with the same bytes (a retry, a duplicate writer) is accepted", async () => {
    const sink = await newSink();
    const a = await PartWriter.open(sink, { key: "tracks.jsonl" });
    const b = await PartWriter.open(sink, { key: "tracks.jsonl" });
    await a.append(line(0));
    assert.equal(await a.flush(), 1);
    await b.append(line(0));
    assert.equal(await b.flush(), 1);
    await b.finish();
    assert.equal(await text(sink, "tracks.jsonl"), line(0));
  });

  test("a finish() interrupted while deleting parts is completed on the next open", async () => {
    const sink = await newSink();
    const writer = await PartWriter.open(sink, { key: "tracks.jsonl", partSizeBytes: 300, keepParts: true });
    for (const l of lines(0, 40)) await writer.append(l);
    await writer.finish();
    const parts = await keysOf(sink, "tracks/");
    assert.ok(parts.length >= 4);
    await sink.delete(parts[0]); // the crash came after deleting the first two parts
    await sink.delete(parts[1]);

    const reopened = await PartWriter.open(sink, { key: "tracks.jsonl", partsWritten: parts.length });
    await assert.rejects(reopened.append(line(99)), /already finishing/);
    const result = await reopened.finish();
    assert.equal(result.parts, parts.length);
    assert.equal(result.sizeBytes, lines(0, 40).join("").length);
    assert.deepEqual(await keysOf(sink), ["tracks.jsonl"]);
    assert.equal(await text(sink, "tracks.jsonl"), lines(0, 40).join(""));
  });

  test("parts missing without a final object are reported, not papered over", async () => {
    const sink = await newSink();
    const writer = await PartWriter.open(sink, { key: "tracks.jsonl", partSizeBytes: 200 });
    for (const l of lines(0, 20)) await writer.append(l);
    await writer.flush();
    await sink.delete("tracks/part-000002.jsonl");
    await assert.rejects(
      PartWriter.open(sink, { key: "tracks.jsonl", partsWritten: writer.partsWritten }),
      (error: unknown) => {
        assert.ok(error instanceof PartsMissingError);
        assert.deepEqual(error.missing, [2]);
        assert.ok(error.uri.endsWith("/tracks/") && !error.uri.includes("//tracks"), error.uri);
        assert.match(error.message, /re-run the job/);
        return true;
      },
    );
    await assert.rejects(writer.finish(), PartsMissingError);
    assert.equal(await sink.exists("tracks.jsonl"), false);
  });

  test("an empty output finishes as an empty object", async () => {
    const sink = await newSink();
    const writer = await PartWriter.open(sink, { key: "tracks.jsonl" });
    assert.equal(await writer.flush(), 0);
    assert.deepEqual(await writer.finish(), { parts: 0, sizeBytes: 0 });
    assert.equal(await text(sink, "tracks.jsonl"), "");
  });
}

describe("PartWriter on a local directory", () => {
  let scratch: string;
  let count = 0;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "vdet-parts-"));
  });
  after(() => rm(scratch, { recursive: true, force: true }));
  partWriterSuite(() => LocalDirSink.open(join(scratch, `job-${++count}`)));

  test("a second writer with different bytes for the same part is refused", async () => {
    const sink = await LocalDirSink.open(join(scratch, "conflict"));
    const a = await PartWriter.open(sink, { key: "tracks.jsonl" });
    const b = await PartWriter.open(sink, { key: "tracks.jsonl" });
    await a.append(line(0));
    await a.flush();
    await b.append(line(1));
    await assert.rejects(b.flush(), ObjectConflictError);
    await assert.rejects(
      PartWriter.open(sink, { key: "tracks.jsonl", partsPrefix: "" }),
      /parts prefix must be a folder apart/,
    );
  });
});

describe("PartWriter on S3 (s3rver)", () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3();
  });
  after(() => s3.close());
  partWriterSuite(
    async () => new S3Sink(s3.client(), { kind: "s3", bucket: await s3.createBucket(), prefix: "jobs/a/" }),
  );
});
