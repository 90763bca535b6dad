// Which ffmpeg is used: environment override, then the system's, then the bundled static builds; and the bundled
// builds really probe and decode (checked in a child process, as the binary is fixed per process).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeNumberedClip, useTempDir } from "../testing/clips.ts";
import { bundledFallbackWarning, describeFfmpeg, resolveFfmpegBinaries } from "./binaries.ts";
import { FfmpegMissingError } from "./errors.ts";

const execFileAsync = promisify(execFile);
const dir = useTempDir("binaries");

async function fakeBinary(path: string): Promise<string> {
  await writeFile(path, "#!/bin/sh\nexit 0\n");
  await chmod(path, 0o755);
  return path;
}

describe("resolveFfmpegBinaries", () => {
  test("VDET_FFMPEG/VDET_FFPROBE win; a missing one is an error that says what to do", async () => {
    const ffmpeg = await fakeBinary(join(dir.path, "my-ffmpeg"));
    const ffprobe = await fakeBinary(join(dir.path, "my-ffprobe"));
    assert.deepEqual(resolveFfmpegBinaries({ VDET_FFMPEG: ffmpeg, VDET_FFPROBE: ffprobe, PATH: "" }), {
      ffmpegPath: ffmpeg,
      ffmpegSource: "env",
      ffprobePath: ffprobe,
      ffprobeSource: "env",
    });
    assert.throws(
      () => resolveFfmpegBinaries({ VDET_FFMPEG: join(dir.path, "absent"), PATH: "" }),
      (error: unknown) => error instanceof FfmpegMissingError && /unset it/.test(error.message),
    );
  });

  test("an ffmpeg on PATH is used with the ffprobe beside it", async () => {
    const bin = join(dir.path, "bin");
    await mkdir(bin);
    const ffmpeg = await fakeBinary(join(bin, "ffmpeg"));
    const ffprobe = await fakeBinary(join(bin, "ffprobe"));
    await writeFile(join(dir.path, "ffmpeg"), "not executable");
    const resolved = resolveFfmpegBinaries({ PATH: `${dir.path}:${bin}` });
    assert.deepEqual(resolved, {
      ffmpegPath: ffmpeg,
      ffmpegSource: "system",
      ffprobePath: ffprobe,
      ffprobeSource: "system",
    });
  });

  test("without either, the binaries shipped by @ffmpeg-installer and @ffprobe-installer", () => {
    const resolved = resolveFfmpegBinaries({ PATH: "" });
    assert.equal(resolved.ffmpegSource, "bundled");
    assert.match(resolved.ffmpegPath, /@ffmpeg-installer/);
    assert.equal(resolved.ffprobeSource, "bundled");
    assert.match(resolved.ffprobePath, /@ffprobe-installer/);
  });

  test("the bundled fallback comes with a warning naming its builds; a system or chosen ffmpeg has none", async () => {
    const warning = bundledFallbackWarning(resolveFfmpegBinaries({ PATH: "" }));
    assert.match(warning ?? "", /ffmpeg 2018\d{4}-g[0-9a-f]+, ffprobe 2018\d{4}-g[0-9a-f]+/);
    assert.match(warning ?? "", /apt-get install ffmpeg/);
    const ffmpeg = await fakeBinary(join(dir.path, "chosen-ffmpeg"));
    const ffprobe = await fakeBinary(join(dir.path, "chosen-ffprobe"));
    assert.equal(
      bundledFallbackWarning(resolveFfmpegBinaries({ VDET_FFMPEG: ffmpeg, VDET_FFPROBE: ffprobe })),
      undefined,
    );
  });
});

describe("the binaries in use", () => {
  test("describeFfmpeg names them, their versions and the sync option", async (t) => {
    const described = await describeFfmpeg();
    assert.match(described.ffmpegVersion, /^ffmpeg version /);
    assert.match(described.ffprobeVersion, /^ffprobe version /);
    t.diagnostic(
      `ffmpeg: ${described.ffmpegSource} ${described.ffmpegPath} (${described.ffmpegVersion}); ffprobe: ${described.ffprobeSource} ${described.ffprobePath}; fps_mode: ${described.hasFpsMode}`,
    );
  });

  test("the bundled static builds probe and decode a clip the same way", async () => {
    const clip = await makeNumberedClip(join(dir.path, "clip.mp4"), {
      frames: 30,
      rate: 25,
      width: 96,
      height: 64,
    });
    const bundled = resolveFfmpegBinaries({ PATH: "" });
    const index = new URL("./index.ts", import.meta.url).href;
    const script = join(dir.path, "check.mts");
    await writeFile(
      script,
      [
        `import { decodeFrames, describeFfmpeg, probeVideo } from ${JSON.stringify(index)};`,
        `const info = await probeVideo(${JSON.stringify(clip)});`,
        "const frames = [];",
        `for await (const f of decodeFrames(${JSON.stringify(clip)}, { sampling: { fps: 5 }, size: { maxSide: 48 } })) frames.push([f.sourceIndex, f.ptsSeconds, f.width, f.height]);`,
        "const { ffmpegSource, ffprobeSource } = await describeFfmpeg();",
        "console.log(JSON.stringify({ frameCount: info.frameCount, fps: info.fps, frames, ffmpegSource, ffprobeSource }));",
      ].join("\n"),
    );
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", script], {
      cwd: root,
      env: { ...process.env, VDET_FFMPEG: bundled.ffmpegPath, VDET_FFPROBE: bundled.ffprobePath },
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(result.ffmpegSource, "env");
    assert.equal(result.frameCount, 30);
    assert.equal(result.fps, 25);
    assert.deepEqual(result.frames, [
      [0, 0, 48, 32],
      [5, 0.2, 48, 32],
      [10, 0.4, 48, 32],
      [15, 0.6, 48, 32],
      [20, 0.8, 48, 32],
      [25, 1, 48, 32],
    ]);
  });
});
