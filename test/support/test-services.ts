// What the test suite needs from the machine, checked before it runs (scripts/test.mjs): Redis at the test
// address (a throwaway redis-server is started when nothing answers there), ffmpeg, Chromium and the Perl RTSP
// server where the selected tests use them. A missing tool stops the run at once with one line on how to install it.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { ffmpegBinaries } from "@vdet/video";
import { TEST_REDIS_URL } from "./redis-url.ts";

export const INSTALL_HINTS = {
  "redis-server":
    "redis-server not found: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set VDET_REDIS_URL to a running Redis",
  ffmpeg:
    "ffmpeg not found: install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg) or set VDET_FFMPEG/VDET_FFPROBE",
  "rtsp-server":
    "the Perl RTSP server (RTSP::Server) not found: install it (Debian/Ubuntu: sudo apt-get install librtsp-server-perl)",
  chromium:
    "chromium not found: install it (Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask chromium) or set VDET_CHROMIUM",
} as const;

/** Whether something accepts TCP connections at host:port (within `timeoutMs`). */
export function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function onPath(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  /** Set when this run started its own server. */
  server?: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Redis at the test address, or a throwaway redis-server (own port, no persistence, loopback only) when nothing
 * answers there and the address is on this machine. Throws one line when neither can be had.
 */
export async function ensureTestRedis(url = TEST_REDIS_URL): Promise<TestRedis> {
  const parsed = new URL(url);
  const host = parsed.hostname || "127.0.0.1";
  const port = Number(parsed.port || 6379);
  if (await answers(host, port)) return { url, stop: async () => {} };
  const local = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/.test(host);
  if (!local)
    throw new Error(`nothing answers at VDET_REDIS_URL ${parsed.host}: start that Redis or unset it`);
  if (!onPath("redis-server")) throw new Error(INSTALL_HINTS["redis-server"]);
  const own = await freePort();
  const server = spawn(
    "redis-server",
    [
      "--port",
      String(own),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let exited = false;
  server.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!(await answers("127.0.0.1", own, 200))) {
    if (exited || Date.now() > deadline) {
      server.kill("SIGKILL");
      throw new Error(`redis-server did not start on 127.0.0.1:${own}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${own}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        server.once("exit", () => resolve());
        server.kill("SIGTERM");
      }),
  };
}

/** ffmpeg as the video package finds it (VDET_FFMPEG, the system's, or the npm-bundled fallback), if it runs. */
export function checkFfmpeg(): string | undefined {
  let path: string;
  try {
    path = ffmpegBinaries().ffmpegPath;
  } catch {
    return INSTALL_HINTS.ffmpeg;
  }
  return spawnSync(path, ["-version"], { stdio: "ignore" }).status === 0 ? undefined : INSTALL_HINTS.ffmpeg;
}

/** Chromium for the browser tests (VDET_CHROMIUM, default /usr/bin/chromium). */
export function checkChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return existsSync(env.VDET_CHROMIUM ?? "/usr/bin/chromium") ? undefined : INSTALL_HINTS.chromium;
}

/** The Perl RTSP server the RTSP tests run (test/support/rtsp-server.ts): perl with RTSP::Server. */
export function checkRtspServer(): string | undefined {
  return spawnSync("perl", ["-MRTSP::Server", "-e", "1"], { stdio: "ignore" }).status === 0
    ? undefined
    : INSTALL_HINTS["rtsp-server"];
}
