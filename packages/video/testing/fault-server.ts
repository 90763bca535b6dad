// Test support: a static file server on loopback with per-file faults, for HLS gap and recorder tests. Faults:
// "404" answers not found; "truncate" declares the full length, sends half and drops the connection; "stall"
// declares the full length, sends half and then nothing until the test ends.

import { readFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";

export type Fault = "404" | "truncate" | "stall";

export interface FaultServer {
  /** http://127.0.0.1:PORT */
  base: string;
  /** Faults by file name (e.g. "seg2.ts"); change them between requests. */
  faults: Map<string, Fault>;
  /** Paths requested, in order. */
  requests: string[];
  /** Called with each request's file name before it is answered (a test can change `faults` here). */
  onRequest: ((name: string) => void) | undefined;
  /** Drops held and open connections and stops listening. */
  close: () => Promise<void>;
}

/** Serves `root` on 127.0.0.1 until `close()`. */
export async function startFaultServer(root: string): Promise<FaultServer> {
  const faults = new Map<string, Fault>();
  const requests: string[] = [];
  const held = new Set<ServerResponse>();
  const state: FaultServer = { base: "", faults, requests, onRequest: undefined, close: async () => {} };
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    requests.push(path);
    const name = normalize(path).replace(/^\/+/, "");
    state.onRequest?.(name);
    const fault = faults.get(name);
    let body: Buffer;
    try {
      body = await readFile(join(root, name));
    } catch {
      response.writeHead(404).end();
      return;
    }
    if (fault === "404") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-length": body.length });
    if (fault === undefined) {
      response.end(body);
      return;
    }
    const half = body.subarray(0, body.length >> 1);
    if (fault === "truncate") response.write(half, () => response.destroy());
    else {
      held.add(response);
      response.write(half);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.close = async () => {
    for (const response of held) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
