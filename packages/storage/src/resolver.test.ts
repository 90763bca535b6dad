import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { after, before, describe, test } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { startTestS3, type TestS3 } from "../testing/s3rver.ts";
import { StorageResolver } from "./resolver.ts";

describe("StorageResolver: one entry from a location or input string to what reads or writes it", () => {
  let s3: TestS3;
  let dir: string;
  before(async () => {
    s3 = await startTestS3();
    dir = mkdtempSync(join(tmpdir(), "vdet-resolver-"));
  });
  after(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("s3:// objects: sized, streamed, read by byte range; sinks on the same client", async () => {
    const bucket = await s3.createBucket();
    const client = s3.client();
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "in/clip.mp4",
        Body: "0123456789",
        ContentType: "video/mp4",
      }),
    );
    const storage = new StorageResolver({ s3Client: client });
    const uri = `s3://${bucket}/in/clip.mp4`;
    assert.equal(await storage.inputSizeBytes(uri), 10);
    const input = storage.openInput(uri);
    assert.ok(input instanceof Readable);
    assert.equal(await text(input), "0123456789");
    const object = await storage.openObject(uri);
    assert.equal(object?.sizeBytes, 10);
    assert.equal(object?.contentType, "video/mp4");
    assert.equal(await text(object!.read(2, 5)), "2345");
    const sink = await storage.openSink(`s3://${bucket}/out/`);
    await sink.put("a.txt", "hello");
    assert.equal(new TextDecoder().decode(await sink.get("a.txt")), "hello");
    storage.close();
    client.destroy();
  });

  test("everything else: local files and directories, other inputs passed through; no S3 client is made", async () => {
    let made = 0;
    const storage = new StorageResolver({
      s3Client: () => {
        made++;
        throw new Error("no S3 client expected");
      },
    });
    const file = join(dir, "clip.mp4");
    writeFileSync(file, "abcdef");
    assert.equal(storage.openInput(file), file);
    assert.equal(storage.openInput("https://example.com/v.mp4"), "https://example.com/v.mp4");
    assert.equal(await storage.inputSizeBytes(file), undefined);
    const object = await storage.openObject(file);
    assert.equal(object?.sizeBytes, 6);
    assert.equal(object?.contentType, undefined);
    assert.equal(await text(object!.read(1, 3)), "bcd");
    assert.equal(await storage.openObject("https://example.com/v.mp4"), null);
    assert.equal(await storage.openObject(join(dir, "missing.mp4")), null);
    const sink = await storage.openSink(join(dir, "out"));
    await sink.put("b.txt", "x");
    assert.equal(made, 0);
    storage.close();
  });
});
