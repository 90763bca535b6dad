// Streams a URL into a `.partial` file while hashing it, resuming with an HTTP Range request when a partial file
// is already there and the server honours ranges (otherwise it starts over). A per-read stall timeout ends a
// download that stops sending. Proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (undici's EnvHttpProxyAgent).

import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, statSync, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from "undici";
import {
  DownloadConnectionError,
  DownloadHttpError,
  DownloadStalledError,
  TruncatedDownloadError,
} from "./errors.ts";

export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
const MAX_REDIRECTIONS = 5;

export interface DownloadProgress {
  received: number;
  total: number | null;
  /** Bytes already on disk when this attempt started (a resume). */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** Where the bytes go; kept after a cut-off or stalled download so the next call resumes. */
  partialPath: string;
  /** Longest wait for the response headers or for the next piece of the body. */
  stallTimeoutMs?: number;
  /** HTTP client; default `proxyDispatcher()` (honours the proxy environment variables). */
  dispatcher?: Dispatcher;
  onProgress?(progress: DownloadProgress): void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
  resumedFrom: number;
}

const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];

/**
 * The HTTP client for downloads: undici's EnvHttpProxyAgent when a proxy variable is set (it also honours
 * NO_PROXY), a plain agent otherwise (EnvHttpProxyAgent warns that it is experimental in undici 6).
 */
export function proxyDispatcher(env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const proxied = PROXY_VARIABLES.some((name) => env[name]);
  if (!proxied) return new Agent();
  return new EnvHttpProxyAgent({
    httpProxy: env.HTTP_PROXY ?? env.http_proxy,
    httpsProxy: env.HTTPS_PROXY ?? env.https_proxy,
    noProxy: env.NO_PROXY ?? env.no_proxy ?? "",
  });
}

async function hashExisting(path: string, hash: Hash): Promise<number> {
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return size;
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Downloads `url` into `partialPath`, continuing a partial file when possible; returns size and sha256. */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher = options.dispatcher ?? proxyDispatcher();
  try {
    return await attempt(options, dispatcher, stallTimeoutMs, true);
  } finally {
    if (ownDispatcher) await dispatcher.close();
  }
}

async function attempt(
  options: DownloadOptions,
  dispatcher: Dispatcher,
  stallTimeoutMs: number,
  mayRetryFromStart: boolean,
): Promise<DownloadResult> {
  const { url, partialPath } = options;
  const hash = createHash("sha256");
  let offset = existsSync(partialPath) ? statSync(partialPath).size : 0;
  if (offset > 0) await hashExisting(partialPath, hash);

  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      dispatcher,
      method: "GET",
      headers:
        offset > 0
          ? { range: `bytes=${offset}-`, "accept-encoding": "identity" }
          : { "accept-encoding": "identity" },
      maxRedirections: MAX_REDIRECTIONS,
      headersTimeout: stallTimeoutMs,
      bodyTimeout: stallTimeoutMs,
      signal: options.signal,
    });
  } catch (error) {
    if (errorCode(error) === "UND_ERR_HEADERS_TIMEOUT")
      throw new DownloadStalledError(url, offset, stallTimeoutMs);
    if (options.signal?.aborted) throw error;
    throw new DownloadConnectionError(url, error);
  }

  const { statusCode, headers, body } = response;
  if (statusCode === 416 && offset > 0 && mayRetryFromStart) {
    // The partial file is as long as (or longer than) the resource: it cannot be continued; start over.
    await body.dump();
    await rm(partialPath, { force: true });
    return attempt(options, dispatcher, stallTimeoutMs, false);
  }
  if (statusCode < 200 || statusCode >= 300) {
    await body.dump();
    // A client error means the resource is gone or refused: a partial file of it is worthless.
    if (statusCode < 500) await rm(partialPath, { force: true });
    throw new DownloadHttpError(url, statusCode);
  }

  const contentRange = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(headers["content-range"] ?? ""));
  const resumed =
    statusCode === 206 && offset > 0 && contentRange !== null && Number(contentRange[1]) === offset;
  if (statusCode === 206 && !resumed) {
    await body.dump();
    await rm(partialPath, { force: true });
    if (!mayRetryFromStart) throw new DownloadHttpError(url, statusCode);
    return attempt(options, dispatcher, stallTimeoutMs, false);
  }
  let hashToUse = hash;
  if (!resumed && offset > 0) {
    // 200 to a range request: the server does not do ranges, so the body is the whole file again.
    hashToUse = createHash("sha256");
    offset = 0;
  }
  const length = headers["content-length"] !== undefined ? Number(headers["content-length"]) : null;
  const total =
    resumed && contentRange?.[2] !== "*"
      ? Number(contentRange?.[2])
      : length !== null
        ? offset + length
        : null;

  let received = offset;
  options.onProgress?.({ received, total, resumedFrom: offset });
  const file = createWriteStream(partialPath, { flags: resumed ? "a" : "w" });
  try {
    await drain(body, file, (chunk) => {
      hashToUse.update(chunk);
      received += chunk.length;
      options.onProgress?.({ received, total, resumedFrom: offset });
    });
  } catch (error) {
    if (errorCode(error) === "UND_ERR_BODY_TIMEOUT")
      throw new DownloadStalledError(url, received, stallTimeoutMs);
    if (options.signal?.aborted) throw error;
    throw new TruncatedDownloadError(url, received, total, error);
  }
  if (total !== null && received !== total) throw new TruncatedDownloadError(url, received, total);
  return { bytes: received, sha256: hashToUse.digest("hex"), resumedFrom: offset };
}

/**
 * Copies the body to the file in flowing mode, never pausing the response: undici 6/7 crash the process with an
 * uncatchable assertion when a server closes the connection while the HTTP parser is paused by backpressure
 * (nodejs/undici#5360, fixed only in undici 8, which needs Node 22). Disk writes outpace downloads, so the
 * file stream's buffer stays small. What reached the disk stays there when the body fails (for a resume).
 */
function drain(body: Readable, file: WriteStream, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failure: unknown;
    const finish = (error?: unknown) => {
      failure ??= error;
      body.removeAllListeners("data");
      file.end();
    };
    file.once("close", () => (failure ? reject(failure) : resolve()));
    file.once("error", (error) => {
      failure ??= error;
      body.destroy();
    });
    body.on("data", (chunk: Buffer) => {
      onChunk(chunk);
      file.write(chunk);
    });
    body.once("end", () => finish());
    body.once("error", (error) => finish(error));
  });
}
