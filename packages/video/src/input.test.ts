// Input classification, whitelists and redaction, checked without running ffmpeg.

import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { useTempDir } from "../testing/clips.ts";
import { NotAVideoError, VideoInputRejectedError, VideoNotFoundError } from "./errors.ts";
import { inputOptions, redactUrl, resolveInput, VIDEO_DEMUXERS } from "./input.ts";

const dir = useTempDir("input");

describe("resolveInput", () => {
  test("a relative path becomes absolute, so no part of it can be read as a protocol", async () => {
    const name = "concat:weird.mp4";
    await writeFile(join(dir.path, name), "x");
    const relativePath = relative(process.cwd(), join(dir.path, name));
    assert.match(relativePath, /^\.\./);
    const resolved = await resolveInput(relativePath);
    assert.equal(resolved.kind, "file");
    assert.equal(resolved.source, resolve(dir.path, name));
    assert.equal(resolved.protocolWhitelist, "file");
  });

  test("URL kinds get their own protocol whitelist; none of them allows file", async () => {
    const url = await resolveInput("https://cdn.example/v/clip.mp4");
    assert.equal(url.kind, "url");
    assert.equal(url.protocolWhitelist, "http,https,tcp,tls,crypto");
    const hls = await resolveInput("http://127.0.0.1:8080/live/index.m3u8?token=abc");
    assert.equal(hls.kind, "hls");
    assert.match(hls.protocolWhitelist, /\bhls\b/);
    const rtsp = await resolveInput("rtsp://camera.local:554/stream1");
    assert.equal(rtsp.kind, "rtsp");
    assert.match(rtsp.protocolWhitelist, /\brtp\b.*\budp\b/);
    const stream = await resolveInput(Readable.from([Buffer.from("x")]));
    assert.deepEqual(
      [stream.kind, stream.source === undefined, stream.protocolWhitelist],
      ["stream", false, "pipe"],
    );
    for (const r of [url, hls, rtsp, stream]) assert.doesNotMatch(r.protocolWhitelist, /\bfile\b/);
  });

  test("other schemes are refused with a hint", async () => {
    const cases: [string, RegExp][] = [
      ["concat:/a.mp4|/b.mp4", /"concat:" is not allowed/],
      ["subfile:,,start,0,end,100,,:/etc/passwd", /"subfile:"/],
      ["file:///etc/passwd", /plain local path/],
      ["s3://bucket/key.mp4", /stream the object/],
      ["ftp://host/a.mp4", /"ftp:"/],
      ["data:video/mp4;base64,AAAA", /"data:"/],
      ["", /empty/],
      ["a\0b", /NUL/],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(resolveInput(input), (error: unknown) => {
        assert.ok(error instanceof VideoInputRejectedError, input);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test("a stream that has already ended is refused", async () => {
    const used = Readable.from([Buffer.from("x")]);
    used.resume();
    await once(used, "end");
    await assert.rejects(resolveInput(used), /already ended/);
  });

  test("allowedKinds refuses the rest", async () => {
    await assert.rejects(resolveInput("/tmp/x.mp4", ["url", "hls"]), /input kind "file" is not allowed/);
    await assert.rejects(resolveInput("rtsp://cam/1", ["file"]), VideoInputRejectedError);
  });

  test("local files are checked before ffmpeg runs", async () => {
    await assert.rejects(resolveInput(join(dir.path, "absent.mp4")), VideoNotFoundError);
    const sub = join(dir.path, "folder.mp4");
    await mkdir(sub);
    await assert.rejects(resolveInput(sub), /not a regular file/);
    const empty = join(dir.path, "empty.mp4");
    await writeFile(empty, "");
    await assert.rejects(
      resolveInput(empty),
      (e: unknown) => e instanceof NotAVideoError && /empty/.test(e.message),
    );
  });
});

describe("secrets and options", () => {
  test("redactUrl drops credentials and query strings", () => {
    assert.equal(
      redactUrl("https://user:pw@bucket.s3.example/k.mp4?X-Amz-Signature=abc"),
      "https://<redacted>@bucket.s3.example/k.mp4?<redacted>",
    );
    assert.equal(redactUrl("http://127.0.0.1:9/a.mp4"), "http://127.0.0.1:9/a.mp4");
  });

  test("a URL with a secret is displayed redacted", async () => {
    const resolved = await resolveInput("https://h.example/a.mp4?sig=s3cr3t");
    assert.equal(resolved.display, "https://h.example/a.mp4?<redacted>");
    assert.equal(resolved.secret, "https://h.example/a.mp4?sig=s3cr3t");
  });

  test("ffmpeg options: whitelists always, a socket timeout for http inputs only", async () => {
    const file = inputOptions(await resolveInput(process.execPath), 5000);
    assert.deepEqual(file.slice(0, 2), ["-protocol_whitelist", "file"]);
    assert.ok(!file.includes("-rw_timeout"));
    const url = inputOptions(await resolveInput("https://h.example/a.mp4"), 5000);
    assert.equal(url[url.indexOf("-rw_timeout") + 1], "5000000");
    const formats = file[file.indexOf("-format_whitelist") + 1]!.split(",");
    assert.deepEqual(formats, [...VIDEO_DEMUXERS]);
    for (const risky of ["tty", "image2", "concat", "png_pipe", "lavfi"])
      assert.ok(!formats.includes(risky), risky);
  });
});
