// What an input is and what ffmpeg may do with it: the input kind decides ffmpeg's protocol whitelist, a
// fixed list of demuxers keeps ffmpeg from "decoding" text or images, and anything else (concat:, subfile:,
// file: URLs, unknown schemes) is refused before ffmpeg runs.

import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { NotAVideoError, VideoInputRejectedError, VideoNotFoundError } from "./errors.ts";

/** A local path, an http(s)/rtsp(s) URL, or a byte stream (an S3 object body, an upload) fed to ffmpeg's stdin. */
export type VideoInput = string | Readable;

/**
 * - `file`: a local path. `stream`: a Readable piped to ffmpeg's stdin (needs a streamable container:
 *   MPEG-TS, Matroska/WebM, fragmented MP4, or MP4 with its moov atom first).
 * - `url`: an http(s) URL of a file. `hls`: an http(s) URL ending in .m3u8. `rtsp`: an rtsp(s) URL.
 */
export type InputKind = "file" | "stream" | "url" | "hls" | "rtsp";

export const ALL_INPUT_KINDS: readonly InputKind[] = ["file", "stream", "url", "hls", "rtsp"];

const PROTOCOLS: Record<InputKind, string> = {
  file: "file",
  stream: "pipe",
  url: "http,https,tcp,tls,crypto",
  hls: "http,https,tcp,tls,crypto,hls",
  rtsp: "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
};

/**
 * Demuxers ffmpeg may pick (`-format_whitelist`). Video containers and live formats, plus audio containers so
 * an audio file is reported as "no video stream" rather than "not a video". Left out on purpose: tty (any text
 * file "decodes" as ANSI art), image2 and the *_pipe image demuxers, concat, and other demuxers that open files.
 */
export const VIDEO_DEMUXERS: readonly string[] = [
  "mov",
  "matroska",
  "mpegts",
  "mpeg",
  "avi",
  "flv",
  "asf",
  "ogg",
  "mxf",
  "nut",
  "dv",
  "ivf",
  "obu",
  "yuv4mpegpipe",
  "h264",
  "hevc",
  "m4v",
  "mpegvideo",
  "mjpeg",
  "gif",
  "hls",
  "rtsp",
  "mp3",
  "aac",
  "wav",
  "flac",
];

export interface ResolvedInput {
  kind: InputKind;
  /** What ffmpeg gets after `-i`: an absolute path, the URL, or pipe:0. */
  source: string | Readable;
  /** The input for messages and logs: URL credentials and query strings (presigned signatures) removed. */
  display: string;
  protocolWhitelist: string;
  /** Text to replace with `display` in ffmpeg's messages, so secrets in URLs never reach logs. */
  secret?: string;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Redacts userinfo and query from a URL; leaves anything unparseable as a bare scheme. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const query = parsed.search === "" ? "" : "?<redacted>";
    const user = parsed.username === "" && parsed.password === "" ? "" : "<redacted>@";
    return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}${query}`;
  } catch {
    return `${url.match(SCHEME)?.[1] ?? "?"}:<unparseable URL>`;
  }
}

/**
 * Classifies an input and checks the cheap things before ffmpeg runs: the scheme is one of ours, the kind is
 * allowed, a local file exists, is a regular file and is not empty.
 */
export async function resolveInput(
  input: VideoInput,
  allowedKinds: readonly InputKind[] = ALL_INPUT_KINDS,
): Promise<ResolvedInput> {
  const resolved = classify(input);
  if (!allowedKinds.includes(resolved.kind)) {
    throw new VideoInputRejectedError(
      `input kind "${resolved.kind}" is not allowed here (allowed: ${allowedKinds.join(", ")})`,
      { input: resolved.display },
    );
  }
  if (resolved.kind === "file") await checkLocalFile(resolved.source as string, resolved.display);
  return resolved;
}

function classify(input: VideoInput): ResolvedInput {
  if (typeof input !== "string") {
    if (typeof input?.pipe !== "function") {
      throw new VideoInputRejectedError("input must be a path, a URL string or a Readable stream");
    }
    if (!input.readable) {
      throw new VideoInputRejectedError(
        "the input stream has already ended or been destroyed; pass a fresh stream",
      );
    }
    return { kind: "stream", source: input, display: "<stream>", protocolWhitelist: PROTOCOLS.stream };
  }
  if (input.trim() === "" || input.includes("\0")) {
    throw new VideoInputRejectedError("input is empty or contains a NUL byte; pass a path or a URL");
  }
  const scheme = input.match(SCHEME)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // Absolute, so ffmpeg can never read a prefix of it as a protocol ("concat:..." in a relative name).
    const path = resolve(input);
    return { kind: "file", source: path, display: path, protocolWhitelist: PROTOCOLS.file };
  }
  const display = redactUrl(input);
  const secret = display === input ? {} : { secret: input };
  if (scheme === "http" || scheme === "https") {
    const kind: InputKind = /\.m3u8$/i.test(new URL(input).pathname) ? "hls" : "url";
    return { kind, source: input, display, protocolWhitelist: PROTOCOLS[kind], ...secret };
  }
  if (scheme === "rtsp" || scheme === "rtsps") {
    return { kind: "rtsp", source: input, display, protocolWhitelist: PROTOCOLS.rtsp, ...secret };
  }
  const hint =
    scheme === "file"
      ? "pass a plain local path instead of a file: URL"
      : scheme === "s3"
        ? "stream the object (GetObject body) into decodeFrames/probeVideo as a Readable"
        : "only local paths, http(s), rtsp(s) and HLS (.m3u8) URLs and Readable streams are accepted; a local file whose name contains ':' can be passed as ./name";
  throw new VideoInputRejectedError(`input scheme "${scheme}:" is not allowed: ${hint}`, { input: display });
}

async function checkLocalFile(path: string, display: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new VideoNotFoundError("video file does not exist; check the path", {
        input: display,
        cause: error,
      });
    }
    throw new VideoNotFoundError(
      `video file cannot be read (${code ?? "unknown error"}); check its permissions`,
      {
        input: display,
        cause: error,
      },
    );
  }
  if (!info.isFile()) {
    throw new NotAVideoError("input is not a regular file (a directory or device); pass a video file", {
      input: display,
    });
  }
  if (info.size === 0) {
    throw new NotAVideoError("video file is empty (0 bytes); the upload or copy probably failed", {
      input: display,
    });
  }
}

/**
 * How ffmpeg reaches the network for http(s) and HLS inputs. `httpProxy` (`http://127.0.0.1:port`): every
 * request, redirect and playlist segment goes through this proxy (HTTPS as CONNECT), which decides what may be
 * reached (@vdet/input-policy's proxy). Unset: ffmpeg connects directly.
 */
export interface NetworkOptions {
  httpProxy?: string;
}

/** ffmpeg input options shared by probe and decode: whitelists, and a socket timeout for network inputs. */
export function inputOptions(
  input: ResolvedInput,
  networkTimeoutMs: number,
  network: NetworkOptions = {},
): string[] {
  const web = input.kind === "url" || input.kind === "hls";
  const proxied = web && network.httpProxy !== undefined;
  const options = [
    "-protocol_whitelist",
    // HTTPS through a proxy is ffmpeg's httpproxy protocol (CONNECT) under tls.
    proxied ? `${input.protocolWhitelist},httpproxy` : input.protocolWhitelist,
    "-format_whitelist",
    VIDEO_DEMUXERS.join(","),
  ];
  if (web) {
    options.push("-rw_timeout", String(Math.max(1, Math.round(networkTimeoutMs * 1000))));
  }
  if (input.kind === "url") {
    // A file over HTTP whose body breaks off before its length (a reset connection) is read on from where it
    // stopped with a range request, a few times, instead of ending the input early: workers read their segments
    // this way (S3 through presigned URLs). Stalls still end at the caller's stall timeout; HTTP errors stay errors.
    options.push("-reconnect", "1", "-reconnect_delay_max", "2");
  }
  if (proxied) options.push("-http_proxy", network.httpProxy!);
  return options;
}
