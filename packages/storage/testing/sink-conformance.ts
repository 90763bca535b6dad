// Test support: what every Sink must do, run against each implementation (S3 over s3rver, local directory),
// so the two stay interchangeable.

import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { InvalidKeyError, ObjectConflictError, ObjectNotFoundError } from "../src/errors.ts";
import type { ObjectInfo, Sink } from "../src/sink.ts";

async function collect(pages: AsyncIterable<ObjectInfo[]>): Promise<ObjectInfo[][]> {
  const all: ObjectInfo[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Registers the shared tests; `newSink` gives an empty sink per test. */
export function sinkConformance(newSink: () => Promise<Sink>): void {
  test("put, get, exists and delete round-trip strings and bytes", async () => {
    const sink = await newSink();
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    assert.deepEqual(
      await sink.put("manifest.json", '{"ünïcode":"✓"}', { contentType: "application/json" }),
      {
        written: true,
      },
    );
    await sink.put("frames/raw.bin", bytes);
    assert.equal(Buffer.from(await sink.get("manifest.json")).toString("utf8"), '{"ünïcode":"✓"}');
    assert.deepEqual(Buffer.from(await sink.get("frames/raw.bin")), Buffer.from(bytes));
    assert.deepEqual(await readAll(sink.read("frames/raw.bin")), Buffer.from(bytes));
    assert.equal(await sink.exists("manifest.json"), true);
    assert.equal(await sink.exists("manifest"), false);
    assert.equal(await sink.exists("frames"), false, "a folder is not an object");

    await sink.put("manifest.json", "{}"); // replace
    assert.equal(Buffer.from(await sink.get("manifest.json")).toString(), "{}");
    await sink.delete("manifest.json");
    assert.equal(await sink.exists("manifest.json"), false);
    await sink.delete("manifest.json"); // deleting nothing is fine
    await assert.rejects(sink.get("manifest.json"), ObjectNotFoundError);
    await assert.rejects(readAll(sink.read("missing.json")), ObjectNotFoundError);
    await sink.put("empty.txt", "");
    assert.equal((await sink.get("empty.txt")).byteLength, 0);
  });

  test("list gives relative keys in order, page by page, from a prefix and after a key", async () => {
    const sink = await newSink();
    const keys = Array.from({ length: 11 }, (_, i) => `tracks/part-${String(i + 1).padStart(6, "0")}.jsonl`);
    for (const key of [...keys].reverse()) await sink.put(key, key);
    await sink.put("tracks.jsonl", "x");
    await sink.put("summary.json", "x");

    const pages = await collect(sink.list("tracks/part-", { pageSize: 4 }));
    assert.deepEqual(
      pages.map((page) => page.length),
      [4, 4, 3],
    );
    assert.deepEqual(
      pages.flat().map((object) => object.key),
      keys,
    );
    assert.equal(pages[0][0].sizeBytes, Buffer.byteLength(keys[0]));
    assert.ok(pages[0][0].lastModified instanceof Date);

    const after = await collect(sink.list("tracks/", { startAfter: keys[8] }));
    assert.deepEqual(
      after.flat().map((object) => object.key),
      keys.slice(9),
    );
    // Sorted here: s3rver lists "tracks/…" before "tracks.jsonl", S3 (and the local sink) the other way round.
    const everything = (await collect(sink.list())).flat().map((object) => object.key);
    assert.deepEqual(everything.sort(), ["summary.json", "tracks.jsonl", ...keys].sort());
    assert.deepEqual(await collect(sink.list("nothing/")), []);
  });

  test("upload writes a stream of unknown length as one object", async () => {
    const sink = await newSink();
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
    await sink.upload("big/stream.bin", Readable.from(chunks), { contentType: "application/octet-stream" });
    assert.deepEqual(Buffer.from(await sink.get("big/stream.bin")), Buffer.concat(chunks));
    async function* generated() {
      yield new TextEncoder().encode("a\n");
      yield new TextEncoder().encode("b\n");
    }
    await sink.upload("lines.jsonl", generated());
    assert.equal(Buffer.from(await sink.get("lines.jsonl")).toString(), "a\nb\n");
  });

  test("a failing upload stream leaves no object", async () => {
    const sink = await newSink();
    async function* failing() {
      yield Buffer.alloc(100_000, 1);
      throw new Error("source broke");
    }
    await assert.rejects(sink.upload("broken.bin", failing()), /source broke/);
    assert.equal(await sink.exists("broken.bin"), false);
    assert.deepEqual(await collect(sink.list()), []);
  });

  test("keys that could escape the root are refused before any write", async () => {
    const sink = await newSink();
    for (const key of [
      "../escape.json",
      "a/../../escape.json",
      "/abs.json",
      "a//b",
      "a\\..\\b",
      ".vdet-tmp-x",
    ]) {
      await assert.rejects(sink.put(key, "x"), InvalidKeyError, key);
      await assert.rejects(sink.get(key), InvalidKeyError, key);
      await assert.rejects(sink.exists(key), InvalidKeyError, key);
      await assert.rejects(sink.delete(key), InvalidKeyError, key);
    }
    await assert.rejects(collect(sink.list("../")), InvalidKeyError);
    assert.deepEqual(await collect(sink.list()), []);
  });
}

/**
 * For stores that honour create-only writes: the same bytes again are a no-op, different bytes at an existing
 * key are a conflict.
 */
export async function assertCreateOnly(sink: Sink): Promise<void> {
  assert.deepEqual(await sink.put("part.jsonl", "one\n", { ifAbsent: true }), { written: true });
  assert.deepEqual(await sink.put("part.jsonl", "one\n", { ifAbsent: true }), { written: false });
  assert.equal(Buffer.from(await sink.get("part.jsonl")).toString(), "one\n");
  await sink.put("conflict.jsonl", "first\n", { ifAbsent: true });
  await assert.rejects(sink.put("conflict.jsonl", "second\n", { ifAbsent: true }), ObjectConflictError);
  assert.equal(Buffer.from(await sink.get("conflict.jsonl")).toString(), "first\n");
}
