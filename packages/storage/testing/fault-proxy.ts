// Test support: an HTTP proxy between an S3 client and s3rver that injects the faults real stores produce:
// error statuses (503 SlowDown, 500, 412), connections reset part way through a request or response body, a
// response lost after the store acted on the request, slow and stalled responses. Headers pass unchanged, so
// SigV4 signatures (made for the proxy's host) still verify upstream.

import { randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  /** Answer with this S3 error instead of forwarding. */
  | { kind: "status"; status: number; code: string; message?: string }
  /**
   * Take in `afterBytes` of the request body, run `onCut`, then reset. With `forwardPartial` those bytes go to
   * the store first (s3rver then holds a partial body); without, the store never hears of the request, which is
   * how S3 treats a PUT whose body never completed.
   */
  | { kind: "reset-request"; afterBytes: number; forwardPartial?: boolean; onCut?: () => Promise<void> }
  /** Forward the request; pass `afterBytes` of the response body, run `onCut`, then reset the connection. */
  | { kind: "reset-response"; afterBytes: number; onCut?: () => Promise<void> }
  /** Forward the request and let the store finish it, then reset instead of answering. */
  | { kind: "lose-response" }
  /** Wait before forwarding. */
  | { kind: "delay"; ms: number }
  /** Pass `afterBytes` of the response body, then send nothing more (until the client gives up). */
  | { kind: "stall-response"; afterBytes: number };

export interface ProxiedRequest {
  readonly index: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  fault?: Fault["kind"];
}

export type FaultPlan = (request: ProxiedRequest) => Fault | undefined | Promise<Fault | undefined>;

/** A plan that applies `fault` to the first request the proxy sees when its method is `method`, and passes the rest. */
export function faultFirst(method: string, fault: Fault): FaultPlan {
  return (request) => (request.method === method && request.index === 0 ? fault : undefined);
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in arrival order, with the fault applied to it. */
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

function sendS3Error(
  response: ServerResponse,
  method: string,
  fault: Extract<Fault, { kind: "status" }>,
): void {
  const body =
    method === "HEAD"
      ? ""
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${
          fault.message ?? fault.code
        }</Message><RequestId>${randomBytes(8).toString("hex")}</RequestId></Error>`;
  response.writeHead(fault.status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
    "x-amz-request-id": randomBytes(8).toString("hex"),
  });
  response.end(body);
}

/** Resets (TCP RST) the client's connection. */
function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

export async function startFaultProxy(upstreamPort: number, plan: FaultPlan): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const handle = async (incoming: IncomingMessage, response: ServerResponse): Promise<void> => {
    const record: ProxiedRequest = {
      index: requests.length,
      method: incoming.method ?? "GET",
      url: incoming.url ?? "/",
      headers: incoming.headers,
    };
    requests.push(record);
    const fault = await plan(record);
    record.fault = fault?.kind;
    const clientSocket = incoming.socket;

    if (fault?.kind === "status") {
      incoming.resume();
      incoming.on("end", () => sendS3Error(response, record.method, fault));
      return;
    }
    if (fault?.kind === "delay") {
      await new Promise((done) => setTimeout(done, fault.ms));
      if (clientSocket.destroyed) return; // the client gave up waiting
    }

    const headers = { ...incoming.headers };
    delete headers.expect; // not signed; the proxy has already answered 100-continue
    const forward = () => {
      const upstream = request({
        host: "127.0.0.1",
        port: upstreamPort,
        method: record.method,
        path: record.url,
        headers,
      });
      upstream.on("error", () => reset(clientSocket));
      response.on("close", () => {
        if (!response.writableFinished) upstream.destroy(); // the client went away
      });
      return upstream;
    };

    if (fault?.kind === "reset-request") {
      const upstream = fault.forwardPartial ? forward() : null;
      let received = 0;
      incoming.on("data", (chunk: Buffer) => {
        if (received >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - received);
        received += part.byteLength;
        upstream?.write(part);
        if (received >= fault.afterBytes) {
          incoming.pause();
          void (async () => {
            await new Promise((done) => setTimeout(done, 50)); // let the store take in what it got
            await fault.onCut?.();
            upstream?.destroy();
            reset(clientSocket);
          })();
        }
      });
      return;
    }
    const upstream = forward();
    incoming.pipe(upstream);

    upstream.on("response", (upstreamResponse) => {
      if (fault?.kind === "lose-response") {
        upstreamResponse.resume();
        upstreamResponse.on("end", () => reset(clientSocket));
        return;
      }
      response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      if (fault?.kind !== "reset-response" && fault?.kind !== "stall-response") {
        upstreamResponse.pipe(response);
        return;
      }
      if (fault.afterBytes <= 0) {
        response.flushHeaders();
        upstreamResponse.destroy();
        setTimeout(() => reset(clientSocket), 20);
        return;
      }
      let passed = 0;
      upstreamResponse.on("data", (chunk: Buffer) => {
        if (passed >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - passed);
        passed += part.byteLength;
        const cut = passed >= fault.afterBytes;
        if (cut) upstreamResponse.pause();
        response.write(part, () => {
          if (!cut || fault.kind !== "reset-response") return;
          void (async () => {
            // Let the client read what was sent: a reset discards data it has not read yet.
            await new Promise((done) => setTimeout(done, 50));
            await fault.onCut?.();
            upstreamResponse.destroy();
            reset(clientSocket);
          })();
        });
      });
      upstreamResponse.on("end", () => response.end());
    });
  };

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch((error: unknown) => {
      console.error("fault proxy:", error);
      reset(incoming.socket);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
