// Which ffmpeg/ffprobe binaries to run: VDET_FFMPEG/VDET_FFPROBE, else the system's on PATH (Debian's ffmpeg
// package), else the static builds shipped by @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe.
// Resolved once per process: fluent-ffmpeg keeps the binary path in a module-wide cache, so every command in a
// process must use the same binary. The bundled builds are from 2018: using them prints a warning naming them.

import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { FfmpegMissingError } from "./errors.ts";

export type BinarySource = "env" | "system" | "bundled";

export interface FfmpegBinaries {
  ffmpegPath: string;
  ffmpegSource: BinarySource;
  ffprobePath: string;
  ffprobeSource: BinarySource;
}

export interface FfmpegDescription extends FfmpegBinaries {
  /** First line of `ffmpeg -version`, e.g. "ffmpeg version 5.1.6-0+deb12u1". */
  ffmpegVersion: string;
  ffprobeVersion: string;
  /** Whether this ffmpeg knows `-fps_mode` (5.1+); older ones get `-vsync`. */
  hasFpsMode: boolean;
}

const requireFromHere = createRequire(import.meta.url);
const execFileAsync = promisify(execFile);

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: the caller tries the next candidate
  }
}

function findOnPath(name: string, pathVariable: string | undefined): string | undefined {
  for (const dir of (pathVariable ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function bundledPath(packageName: string): string | undefined {
  try {
    const path = (requireFromHere(packageName) as { path?: unknown }).path;
    return typeof path === "string" && isExecutableFile(path) ? path : undefined;
  } catch {
    return undefined; // package or its platform binary not installed
  }
}

/** The installer package's own version string for its build, e.g. "20181210-g0e8eb07980". */
function bundledVersion(packageName: string): string {
  try {
    const version = (requireFromHere(packageName) as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown build";
  } catch {
    return "unknown build";
  }
}

/**
 * The warning for binaries that fell back to the npm installers' static builds (none for a system or VDET_FFMPEG
 * ffmpeg): they parse attacker-supplied media with a demuxer stack years old.
 */
export function bundledFallbackWarning(binaries: FfmpegBinaries): string | undefined {
  const bundled = [
    binaries.ffmpegSource === "bundled" ? `ffmpeg ${bundledVersion("@ffmpeg-installer/ffmpeg")}` : undefined,
    binaries.ffprobeSource === "bundled"
      ? `ffprobe ${bundledVersion("@ffprobe-installer/ffprobe")}`
      : undefined,
  ].filter((b) => b !== undefined);
  if (bundled.length === 0) return undefined;
  return (
    `no system ffmpeg found, using the static builds from the npm installer packages (${bundled.join(", ")}): ` +
    "fine for trying vdet on your own files, not for untrusted video; install a maintained ffmpeg " +
    "(apt-get install ffmpeg) or set VDET_FFMPEG/VDET_FFPROBE"
  );
}

function fromEnv(variable: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[variable];
  if (value === undefined || value === "") return undefined;
  if (!isExecutableFile(value)) {
    throw new FfmpegMissingError(
      `${variable}=${value} is not an executable file; point it at an ffmpeg build or unset it to use the system or bundled one`,
    );
  }
  return value;
}

type Candidate = readonly [BinarySource, () => string | undefined];

/** The first candidate that finds a path, tried in order (a later one only when those before found nothing). */
function firstFound(
  candidates: readonly Candidate[],
  missing: string,
): { path: string; source: BinarySource } {
  for (const [source, find] of candidates) {
    const path = find();
    if (path !== undefined) return { path, source };
  }
  throw new FfmpegMissingError(missing);
}

/** Pure resolution from an environment; `ffmpegBinaries()` caches the answer for the process environment. */
export function resolveFfmpegBinaries(env: NodeJS.ProcessEnv = process.env): FfmpegBinaries {
  const ffmpeg = firstFound(
    [
      ["env", () => fromEnv("VDET_FFMPEG", env)],
      ["system", () => findOnPath("ffmpeg", env.PATH)],
      ["bundled", () => bundledPath("@ffmpeg-installer/ffmpeg")],
    ],
    "no ffmpeg found: install one (apt-get install ffmpeg), set VDET_FFMPEG, or run npm ci to get @ffmpeg-installer/ffmpeg",
  );
  // A custom or system ffmpeg usually has its own ffprobe beside it, of the same version.
  const sibling = (): string | undefined => {
    if (ffmpeg.source === "bundled") return undefined;
    const path = join(dirname(ffmpeg.path), "ffprobe");
    return isExecutableFile(path) ? path : undefined;
  };
  const ffprobe = firstFound(
    [
      ["env", () => fromEnv("VDET_FFPROBE", env)],
      [ffmpeg.source, sibling],
      ["system", () => findOnPath("ffprobe", env.PATH)],
      ["bundled", () => bundledPath("@ffprobe-installer/ffprobe")],
    ],
    "no ffprobe found: install one (apt-get install ffmpeg), set VDET_FFPROBE, or run npm ci to get @ffprobe-installer/ffprobe",
  );
  return {
    ffmpegPath: ffmpeg.path,
    ffmpegSource: ffmpeg.source,
    ffprobePath: ffprobe.path,
    ffprobeSource: ffprobe.source,
  };
}

let cachedBinaries: FfmpegBinaries | undefined;

/** The binaries every probe and decode in this process uses. */
export function ffmpegBinaries(): FfmpegBinaries {
  if (cachedBinaries === undefined) {
    cachedBinaries = resolveFfmpegBinaries();
    const warning = bundledFallbackWarning(cachedBinaries);
    if (warning !== undefined) process.emitWarning(warning, { code: "VDET_FFMPEG_FALLBACK" });
  }
  return cachedBinaries;
}

let cachedDescription: Promise<FfmpegDescription> | undefined;

async function firstLine(path: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(path, args, { maxBuffer: 4 * 1024 * 1024 });
  return stdout.split("\n", 1)[0]?.trim() ?? "";
}

/** Paths, sources, versions and the capabilities decoding depends on; for start-up logs and reports. */
export function describeFfmpeg(): Promise<FfmpegDescription> {
  cachedDescription ??= (async () => {
    const binaries = ffmpegBinaries();
    try {
      const [ffmpegVersion, ffprobeVersion, help] = await Promise.all([
        firstLine(binaries.ffmpegPath, ["-version"]),
        firstLine(binaries.ffprobePath, ["-version"]),
        execFileAsync(binaries.ffmpegPath, ["-hide_banner", "-h", "long"], { maxBuffer: 16 * 1024 * 1024 }),
      ]);
      return { ...binaries, ffmpegVersion, ffprobeVersion, hasFpsMode: /^-fps_mode\b/m.test(help.stdout) };
    } catch (error) {
      cachedDescription = undefined;
      throw new FfmpegMissingError(
        `${binaries.ffmpegPath} or ${binaries.ffprobePath} does not run; point VDET_FFMPEG/VDET_FFPROBE at working binaries`,
        { cause: error },
      );
    }
  })();
  return cachedDescription;
}

let cachedHwaccels: Promise<ReadonlySet<string>> | undefined;

/**
 * Whether an ffmpeg (default: the decoding one) lists `name` under `ffmpeg -hwaccels`: a property of the build;
 * no GPU is touched, so a build with cuda on a machine without one still says yes.
 */
export async function hasHwaccel(name: string, ffmpegPath?: string): Promise<boolean> {
  if (ffmpegPath !== undefined) return (await listHwaccels(ffmpegPath)).has(name);
  cachedHwaccels ??= listHwaccels(ffmpegBinaries().ffmpegPath);
  try {
    return (await cachedHwaccels).has(name);
  } catch (error) {
    cachedHwaccels = undefined;
    throw error;
  }
}

async function listHwaccels(ffmpegPath: string): Promise<ReadonlySet<string>> {
  const { stdout } = await execFileAsync(ffmpegPath, ["-hide_banner", "-hwaccels"]);
  return new Set(
    stdout
      .split("\n")
      .slice(1) // "Hardware acceleration methods:"
      .map((line) => line.trim())
      .filter((line) => line !== ""),
  );
}
