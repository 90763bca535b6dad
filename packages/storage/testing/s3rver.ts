// Test support: a real S3-protocol server (s3rver, in a child process: see s3rver-process.ts) on a free
// port of 127.0.0.1 with its own temporary directory, clients for it made by createS3Client, and a fresh
// bucket per test.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, type S3Config } from "../src/s3-config.ts";

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface TestS3 {
  /** http://127.0.0.1:port of the server itself. */
  readonly endpoint: string;
  readonly port: number;
  /** A client for `endpoint` (or another, e.g. a proxy's), with short test backoffs; closed with the server. */
  client(overrides?: Partial<S3Config>): S3Client;
  /** Creates a bucket with a name no other test uses. */
  createBucket(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "vdet-s3rver-"));
  const server = spawn(
    process.execPath,
    [
      "--openssl-legacy-provider",
      "--import",
      "tsx",
      fileURLToPath(new URL("./s3rver-process.ts", import.meta.url)),
      directory,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise((resolve) => server.on("exit", resolve));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: server.stdout }).once("line", (line: string) => resolve(JSON.parse(line).port));
    server.once("exit", (code: number | null) =>
      reject(new Error(`s3rver exited with ${code} before it was ready`)),
    );
  });
  const endpoint = `http://127.0.0.1:${port}`;
  // What every client of this server shares; they differ in retries.
  const connection = {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    idleTimeoutMs: 10_000,
    connectionTimeoutMs: 2_000,
    credentials: S3RVER_CREDENTIALS,
  };
  const clients: S3Client[] = [];
  const admin = createS3Client({ ...connection, maxAttempts: 3 });
  clients.push(admin);
  return {
    endpoint,
    port,
    client(overrides = {}) {
      const client = createS3Client({
        ...connection,
        maxAttempts: 6,
        backoff: { baseDelayMs: 10, throttlingBaseDelayMs: 20, maxDelayMs: 200 },
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async createBucket() {
      const bucket = `vdet-test-${randomBytes(5).toString("hex")}`;
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async close() {
      for (const client of clients) client.destroy();
      server.stdin?.end();
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}
