import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { describe, test } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { type FaultPlan, type FaultProxy, faultFirst } from "../testing/fault-proxy.ts";
import { useTestS3 } from "../testing/s3-test-bed.ts";
import {
  InvalidLocationError,
  ObjectChangedError,
  ObjectNotFoundError,
  StorageRequestError,
} from "./errors.ts";
import { openS3Input } from "./s3-object-stream.ts";
import { listS3Videos, type S3Video } from "./s3-videos.ts";

const bed = useTestS3();

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A bucket holding `body` at videos/clip.mp4, and a client whose requests pass the fault proxy. */
async function videoBehindProxy(body: Uint8Array, plan: FaultPlan) {
  const bucket = await bed.s3.createBucket();
  await bed.direct.send(new PutObjectCommand({ Bucket: bucket, Key: "videos/clip.mp4", Body: body }));
  const proxy = await bed.faultProxy(plan);
  return {
    uri: `s3://${bucket}/videos/clip.mp4`,
    bucket,
    proxy,
    client: bed.s3.client({ endpoint: proxy.endpoint }),
  };
}

const gets = (proxy: FaultProxy) => proxy.requests.filter((r) => r.method === "GET");

describe("openS3Input", () => {
  test("streams an object whole", async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const { uri, client } = await videoBehindProxy(body, () => undefined);
    assert.equal(sha256(await readAll(openS3Input(uri, client))), sha256(body));
  });

  test("a connection reset mid-body resumes with a Range request pinned to the ETag", async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const { uri, client, proxy } = await videoBehindProxy(
      body,
      faultFirst("GET", { kind: "reset-response", afterBytes: 1024 * 1024 }),
    );
    assert.equal(sha256(await readAll(openS3Input(uri, client))), sha256(body));
    const [first, second, ...rest] = gets(proxy);
    assert.equal(rest.length, 0);
    assert.equal(first.headers.range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(second.headers.range))?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 1024 * 1024, `resumed at ${second.headers.range}`);
    assert.match(String(second.headers["if-match"]), /^"[0-9a-f]{32}"$/);
  });

  test("a body that stalls is dropped after the idle timeout and resumed", async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const { uri, client, proxy } = await videoBehindProxy(
      body,
      faultFirst("GET", { kind: "stall-response", afterBytes: 512 * 1024 }),
    );
    const started = performance.now();
    assert.equal(sha256(await readAll(openS3Input(uri, client, { idleTimeoutMs: 300 }))), sha256(body));
    assert.ok(performance.now() - started < 5000);
    assert.equal(gets(proxy).length, 2);
    assert.match(String(gets(proxy)[1].headers.range), /^bytes=[1-9]\d*-$/);
  });

  test("SlowDown before the body is the SDK's to retry; resets after it are ours", async () => {
    const body = randomBytes(1024 * 1024);
    const { uri, client, proxy } = await videoBehindProxy(body, (req) => {
      if (req.index < 2) return { kind: "status", status: 503, code: "SlowDown" };
      if (req.index < 4) return { kind: "reset-response", afterBytes: 200 * 1024 * (req.index - 1) };
      return undefined;
    });
    assert.equal(sha256(await readAll(openS3Input(uri, client))), sha256(body));
    assert.deepEqual(
      proxy.requests.map((r) => r.fault ?? "pass"),
      ["status", "status", "reset-response", "reset-response", "pass"],
    );
  });

  test("an object replaced between attempts fails with ObjectChangedError instead of mixing versions", async () => {
    const body = randomBytes(1024 * 1024);
    let replaced = false;
    const { uri, bucket, client } = await videoBehindProxy(
      body,
      faultFirst("GET", {
        kind: "reset-response",
        afterBytes: 256 * 1024,
        onCut: async () => {
          await bed.direct.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: "videos/clip.mp4",
              Body: randomBytes(1024 * 1024),
            }),
          );
          replaced = true;
        },
      }),
    );
    await assert.rejects(readAll(openS3Input(uri, client)), (error: unknown) => {
      assert.ok(error instanceof ObjectChangedError);
      assert.ok(error.offsetBytes > 0);
      assert.match(error.message, /changed while it was being read/);
      return true;
    });
    assert.ok(replaced);
  });

  test("a body that keeps breaking without progress fails after maxAttempts", async () => {
    const { uri, client, proxy } = await videoBehindProxy(randomBytes(64 * 1024), () => ({
      kind: "reset-response",
      afterBytes: 0,
    }));
    await assert.rejects(
      readAll(openS3Input(uri, client, { maxAttempts: 3, baseDelayMs: 5 })),
      (error: unknown) => {
        assert.ok(error instanceof StorageRequestError);
        assert.match(error.message, /broke off at byte 0 of 65536 3 time\(s\) in a row/);
        return true;
      },
    );
    assert.equal(gets(proxy).length, 3);
  });

  test("offsetBytes starts part way; missing objects and bad URIs fail clearly", async () => {
    const body = randomBytes(100_000);
    const { uri, client } = await videoBehindProxy(body, () => undefined);
    assert.deepEqual(await readAll(openS3Input(uri, client, { offsetBytes: 40_000 })), body.subarray(40_000));
    await assert.rejects(readAll(openS3Input(`${uri}.missing`, client)), ObjectNotFoundError);
    assert.throws(() => openS3Input("s3://Bad_Bucket/x.mp4", client), InvalidLocationError);
    assert.throws(() => openS3Input("https://example.com/x.mp4", client), /expected s3:\/\/bucket\/key/);
  });

  test("stopping early releases the connection", async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const { uri, client } = await videoBehindProxy(body, () => undefined);
    const stream = openS3Input(uri, client, { highWaterMark: 64 * 1024 });
    let read = 0;
    for await (const chunk of stream) {
      read += (chunk as Buffer).byteLength;
      if (read > 256 * 1024) break;
    }
    assert.ok(stream.destroyed);
    // The client still works: the socket was released or replaced.
    assert.equal((await readAll(openS3Input(uri, client, { offsetBytes: body.length - 10 }))).byteLength, 10);
  });
});

describe("listS3Videos", () => {
  test("pages through a prefix, keeping only video files, and resumes after a key", async () => {
    const bucket = await bed.s3.createBucket();
    const keys = [
      "archive/cam1/a.mp4",
      "archive/cam1/b.MOV",
      "archive/cam1/notes.txt",
      "archive/cam1/c.mkv",
      "archive/cam2/d.webm",
      "archive/cam2/e.json",
      "archive/cam2/f.ts",
      "archive/cam2/g.avi",
      "archive/h.m4v",
      "archive/readme.md",
      "archive/noextension",
      "other/i.mp4",
    ];
    for (const key of keys)
      await bed.direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));

    const pages: S3Video[][] = [];
    for await (const page of listS3Videos(`s3://${bucket}/archive/`, bed.direct, { pageSize: 3 }))
      pages.push(page);
    const videos = pages.flat();
    assert.deepEqual(
      videos.map((v) => v.key).sort(),
      keys.filter((k) => k.startsWith("archive/") && /\.(mp4|mov|mkv|webm|ts|avi|m4v)$/i.test(k)).sort(),
    );
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    assert.ok(pages.every((page) => page.length > 0 && page.length <= 3));
    const first = videos.find((v) => v.key === "archive/cam1/a.mp4");
    assert.equal(first?.uri, `s3://${bucket}/archive/cam1/a.mp4`);
    assert.equal(first?.sizeBytes, "archive/cam1/a.mp4".length);

    const resumed: string[] = [];
    for await (const page of listS3Videos(`s3://${bucket}/archive`, bed.direct, {
      pageSize: 2,
      startAfter: "archive/cam1/c.mkv",
    })) {
      resumed.push(...page.map((v) => v.key));
    }
    assert.deepEqual(resumed.sort(), [
      "archive/cam2/d.webm",
      "archive/cam2/f.ts",
      "archive/cam2/g.avi",
      "archive/h.m4v",
    ]);

    await assert.rejects(listS3Videos("/local/dir", bed.direct).next(), /expected s3:\/\/bucket\/prefix/);
    await assert.rejects(listS3Videos(`s3://${bucket}/`, bed.direct, { pageSize: 0 }).next(), RangeError);
  });
});
