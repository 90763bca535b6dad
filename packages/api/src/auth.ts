// Bearer-token authentication for the API, the dashboard and bull-board. Scripts send `Authorization: Bearer`;
// a browser opens any page once with `?token=…`, which sets an HttpOnly, SameSite=Strict session cookie (an
// HMAC of the token, not the token) and redirects to the same address without the token.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const SESSION_COOKIE = "vdet_session";
const SESSION_MAX_AGE_S = 12 * 3600;

/** Paths anyone may read: health, the API docs, and the dashboard's pages (static; their data needs the token). */
const PUBLIC = [/^\/healthz$/, /^\/readyz$/, /^\/docs(\/.*)?$/, /^\/openapi\.json$/, /^\/$/, /^\/ui(\/.*)?$/];

function sameSecret(a: string, b: string): boolean {
  // Fixed-length digests: the time depends neither on where nor whether in length the secrets differ.
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function sessionValue(token: string): string {
  return createHmac("sha256", token).update("vdet dashboard session").digest("base64url");
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether a Host header names this machine's loopback interface (`localhost`, 127.0.0.0/8, `[::1]`, with or
 * without a port). Without authentication only those are served: a web page whose DNS name was rebound to
 * 127.0.0.1 sends its own name as Host and is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(host.trim());
  if (!match) return false;
  const name = match[1].toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name === "[::1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) && name.split(".").every((n) => Number(n) <= 255);
}

/** Where to send a browser after `?token=`: always a path on this server (never `//host/…` or a full URL). */
export function sameOriginPath(path: string): string {
  return `/${path.replace(/^[/\\]+/, "")}`;
}

/** Adds the authentication hook; `token` null turns authentication off (explicit local mode, loopback Hosts only). */
export function installAuth(app: FastifyInstance, token: string | null): void {
  if (token === null) {
    app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
      if (!isLoopbackHost(request.headers.host)) {
        return reply.code(421).send({
          error:
            "without authentication (--no-auth) this server answers only requests for localhost, 127.0.0.1 or [::1]",
        });
      }
    });
    return;
  }
  const session = sessionValue(token);
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const [path, search = ""] = request.url.split("?", 2);
    const params = new URLSearchParams(search);
    const queryToken = params.get("token");
    if (queryToken !== null && (request.method === "GET" || request.method === "HEAD")) {
      if (!sameSecret(queryToken, token)) {
        return reply.code(401).send({ error: "wrong token in ?token=" });
      }
      params.delete("token");
      const rest = params.toString();
      const secure = request.protocol === "https" ? "; Secure" : "";
      return reply
        .code(303)
        .header(
          "set-cookie",
          `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MAX_AGE_S}${secure}`,
        )
        .header("location", rest ? `${sameOriginPath(path)}?${rest}` : sameOriginPath(path))
        .send();
    }
    if (PUBLIC.some((p) => p.test(path))) return;
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    if (bearer !== undefined && sameSecret(bearer, token)) return;
    const fromCookie = cookie(request, SESSION_COOKIE);
    if (fromCookie !== undefined && sameSecret(fromCookie, session)) return;
    return reply
      .code(401)
      .header("www-authenticate", "Bearer")
      .send({ error: "missing or wrong bearer token (a browser: open the page once with ?token=…)" });
  });
}
