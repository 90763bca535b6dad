// The HTTP(S) proxy ffmpeg reaches the network through (`-http_proxy`): a small server on a loopback port of our
// own process. ffmpeg sends plain-HTTP requests to it in absolute form (GET http://host/path) and opens HTTPS
// with CONNECT host:443; it follows redirects and fetches HLS playlists and segments itself, each as a new request
// through the proxy. For every one the proxy resolves the host, checks every address against the input policy,
// and connects to the checked address only (pinned: a name that resolves elsewhere a moment later is never
// asked again for this connection). A plain-HTTP redirect whose target leaves the policy is answered 403 instead
// of being passed on. Anything refused gets 403 with the reason, which ffmpeg reports as the input's error.

import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { InputNotAllowedError } from "./errors.ts";
import type { InputPolicy } from "./policy.ts";

export interface InputProxy {
  /** `http://127.0.0.1:<port>`: what ffmpeg gets as `-http_proxy`. */
  readonly url: string;
  /** Requests and CONNECTs refused by the policy so far, with their reasons (newest last, at most 100). */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

/** Headers that describe one hop (RFC 9110 7.6.1), never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function forwardHeaders(headers: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

/** Host and port of a CONNECT target (`host:port`, `[v6]:port`). */
function connectTarget(target: string): { host: string; port: number } | null {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(target);
  if (!match) return null;
  const port = Number(match[2]);
  return port > 0 && port < 65536 ? { host: match[1], port } : null;
}

export async function startInputProxy(policy: InputPolicy): Promise<InputProxy> {
  const refused: string[] = [];
  const sockets = new Set<Socket | Duplex>();
  const refuse = (reason: string) => {
    refused.push(reason);
    if (refused.length > 100) refused.shift();
  };
  const deny = (response: ServerResponse, status: number, reason: string) => {
    refuse(reason);
    if (!response.headersSent)
      response.writeHead(status, { "content-type": "text/plain", connection: "close" });
    response.end(`vdet input proxy: ${reason}\n`);
  };

  /** Why a redirect's target may not be followed, or null (relative targets stay on the checked host). */
  const redirectProblem = async (location: string, base: URL): Promise<string | null> => {
    let next: URL;
    try {
      next = new URL(location, base);
    } catch {
      return `redirect to an unparseable location`;
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      return `redirect to a ${next.protocol} URL`;
    }
    try {
      await policy.resolve(next.hostname);
      return null;
    } catch (error) {
      return `redirect refused: ${(error as Error).message}`;
    }
  };

  const server = createServer(async (request, response) => {
    let target: URL;
    try {
      target = new URL(request.url ?? "");
    } catch {
      return deny(response, 400, "requests through the proxy name an absolute http:// URL");
    }
    if (target.protocol !== "http:") return deny(response, 400, `scheme ${target.protocol} is not proxied`);
    let pinned: { address: string; family: 4 | 6 };
    try {
      pinned = await policy.resolve(target.hostname);
    } catch (error) {
      if (error instanceof InputNotAllowedError) return deny(response, 403, error.message);
      return deny(response, 502, (error as Error).message);
    }
    const upstream = httpRequest({
      host: pinned.address,
      family: pinned.family,
      port: target.port === "" ? 80 : Number(target.port),
      method: request.method,
      path: `${target.pathname}${target.search}`,
      headers: { ...forwardHeaders(request.headers), host: target.host },
    });
    upstream.on("response", async (answer) => {
      const location = answer.headers.location;
      if (
        answer.statusCode !== undefined &&
        answer.statusCode >= 300 &&
        answer.statusCode < 400 &&
        location
      ) {
        const problem = await redirectProblem(location, target);
        if (problem !== null) {
          answer.resume();
          return deny(response, 403, problem);
        }
      }
      response.writeHead(answer.statusCode ?? 502, forwardHeaders(answer.headers));
      answer.pipe(response);
    });
    upstream.on("error", (error) => deny(response, 502, `upstream ${target.host}: ${error.message}`));
    request.pipe(upstream);
  });

  // HTTPS: CONNECT host:port, checked and pinned the same way; the TLS inside is ffmpeg's own with the server.
  server.on("connect", async (request: IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    const target = connectTarget(request.url ?? "");
    if (target === null) {
      refuse(`CONNECT ${request.url}: not host:port`);
      client.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
      return;
    }
    let pinned: { address: string; family: 4 | 6 };
    try {
      pinned = await policy.resolve(target.host);
    } catch (error) {
      refuse((error as Error).message);
      client.end(`HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n${(error as Error).message}\n`);
      return;
    }
    const upstream = connect({ host: pinned.address, port: target.port, family: pinned.family });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", (error) => {
      if (!client.destroyed)
        client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n${error.message}\n`);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
