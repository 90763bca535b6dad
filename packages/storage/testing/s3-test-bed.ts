// Test support: one s3rver for a test file, started before its tests and closed after them together with
// every fault proxy the tests put in front of it.

import { after, before } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { type FaultPlan, type FaultProxy, startFaultProxy } from "./fault-proxy.ts";
import { startTestS3, type TestS3 } from "./s3rver.ts";

export interface S3TestBed {
  /** The server (started in `before`, so only inside tests). */
  readonly s3: TestS3;
  /** A client that talks to the server directly. */
  readonly direct: S3Client;
  /** A fault proxy in front of the server, closed after the file's tests. */
  faultProxy(plan: FaultPlan): Promise<FaultProxy>;
}

/** Call at the top of a test file: registers the `before` and `after` hooks that start and stop the server. */
export function useTestS3(): S3TestBed {
  let server: { s3: TestS3; direct: S3Client } | undefined;
  const proxies: FaultProxy[] = [];
  before(async () => {
    const s3 = await startTestS3();
    server = { s3, direct: s3.client() };
  });
  after(async () => {
    for (const proxy of proxies) await proxy.close();
    await server?.s3.close();
  });
  const started = () => {
    if (!server) throw new Error("the test S3 starts in before(): use it inside tests, not at load time");
    return server;
  };
  return {
    get s3() {
      return started().s3;
    },
    get direct() {
      return started().direct;
    },
    async faultProxy(plan) {
      const proxy = await startFaultProxy(started().s3.port, plan);
      proxies.push(proxy);
      return proxy;
    },
  };
}
