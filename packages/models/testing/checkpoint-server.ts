// A local HTTP server for download tests (never the internet): serves files by path with a chosen behaviour —
// whole file with Range support, no Range support, a corrupted byte, a cut-off body, a stall, a redirect — and
// records every request. Also a CONNECT proxy, to check that proxy settings are honoured.

import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before } from "node:test";

export type Behaviour =
  | { kind: "ok" }
  | { kind: "no-range" }
  /** The whole file, then the server closes the connection (HTTP/1.0 style, as simple mirrors do). */
  | { kind: "close" }
  | { kind: "corrupt"; at: number }
  /** Announces the full Content-Length, sends `bytes`, then closes the connection. */
  | { kind: "truncate"; bytes: number }
  /** Sends `bytes` of the body (or no headers at all when `beforeHeaders`), then nothing until closed. */
  | { kind: "stall"; bytes: number; beforeHeaders?: boolean }
  | { kind: "redirect"; to: string };

export interface RecordedRequest {
  path: string;
  range: string | undefined;
  status: number;
}

export interface CheckpointServer {
  url: string;
  requests: RecordedRequest[];
  serve(path: string, body: Uint8Array, behaviour?: Behaviour): void;
  behave(path: string, behaviour: Behaviour): void;
  close(): Promise<void>;
}

/**
 * Call at the top of a test file: starts one server before the file's tests and closes it after them. The handle
 * is filled in by the `before` hook with the started server's fields, so use it inside tests only.
 */
export function useCheckpointServer(): CheckpointServer {
  const handle = {} as CheckpointServer;
  before(async () => {
    Object.assign(handle, await startCheckpointServer());
  });
  after(() => handle.close?.());
  return handle;
}

export async function startCheckpointServer(): Promise<CheckpointServer> {
  const files = new Map<string, { body: Uint8Array; behaviour: Behaviour }>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const range = req.headers.range;
    const file = files.get(path);
    const record = (status: number) => requests.push({ path, range, status });
    if (!file) {
      record(404);
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const { body, behaviour } = file;
    switch (behaviour.kind) {
      case "redirect":
        record(302);
        res.writeHead(302, { location: behaviour.to }).end();
        return;
      case "stall":
        record(200);
        if (behaviour.beforeHeaders) return; // never answers
        res.writeHead(200, { "content-length": String(body.length) });
        res.write(body.subarray(0, behaviour.bytes));
        return; // the body never finishes
      case "truncate":
        record(200);
        res.writeHead(200, { "content-length": String(body.length) });
        res.write(body.subarray(0, behaviour.bytes), () => res.socket?.destroy());
        return;
      case "close": {
        // Written on the raw socket, as Python's http.server does: an HTTP/1.0 head, the body in 64 KiB
        // pieces, then the end of the connection.
        record(200);
        const socket = req.socket;
        socket.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
        for (let at = 0; at < body.length; at += 65536) socket.write(body.subarray(at, at + 65536));
        socket.end();
        return;
      }
      case "corrupt": {
        record(200);
        const copy = Buffer.from(body);
        copy[behaviour.at] ^= 0xff;
        res.writeHead(200, { "content-length": String(copy.length) }).end(copy);
        return;
      }
      default: {
        const start = behaviour.kind === "ok" ? rangeStart(req, body.length) : undefined;
        if (start === "unsatisfiable") {
          record(416);
          res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        } else if (start !== undefined) {
          record(206);
          res.writeHead(206, {
            "content-length": String(body.length - start),
            "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
            "accept-ranges": "bytes",
          });
          res.end(body.subarray(start));
        } else {
          record(200);
          res.writeHead(200, { "content-length": String(body.length) }).end(body);
        }
      }
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const url = await listen(server);
  return {
    url,
    requests,
    serve: (path, body, behaviour = { kind: "ok" }) => {
      files.set(path, { body, behaviour });
    },
    behave: (path, behaviour) => {
      const file = files.get(path);
      if (!file) throw new Error(`nothing served at ${path}`);
      file.behaviour = behaviour;
    },
    close: () => closeServer(server, sockets),
  };
}

function rangeStart(req: IncomingMessage, size: number): number | "unsatisfiable" | undefined {
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  if (!match) return undefined;
  const start = Number(match[1]);
  return start >= size ? "unsatisfiable" : start;
}

/** A CONNECT proxy (what undici's ProxyAgent speaks); counts the tunnels it opened. */
export async function startConnectProxy(): Promise<{
  url: string;
  tunnels: string[];
  close(): Promise<void>;
}> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy()); // a peer went away: end the tunnel
      s.on("close", () => sockets.delete(s));
    }
  });
  const url = await listen(server);
  return { url, tunnels, close: () => closeServer(server, sockets) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}
