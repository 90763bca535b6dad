// One webhook POST. The target's host goes through the deployment's address policy (@vdet/input-policy, the same
// as network inputs): resolved once, every address checked, and the connection pinned to the checked address
// (no second lookup a DNS rebinding could answer differently). https:// only; http:// only to a loopback address
// (tests, a sidecar). Redirects are not followed.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { type InputPolicy, parseAddress } from "@vdet/input-policy";

export interface WebhookResult {
  /** The HTTP status, when a response came. */
  status?: number;
  /** Why it did not succeed. */
  error?: string;
  /** Another attempt may succeed (network error, timeout, 408, 425, 429, 5xx). */
  retryable: boolean;
  ok: boolean;
}

/** Posts `body` to `url` with `headers`; never throws. */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { policy: InputPolicy; timeoutMs: number },
): Promise<WebhookResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, retryable: false, error: "not a valid URL" };
  }
  const https = target.protocol === "https:";
  if (!https && target.protocol !== "http:")
    return {
      ok: false,
      retryable: false,
      error: `${target.protocol} webhooks are not supported (use https://)`,
    };
  let pinned: { address: string; family: 4 | 6 };
  try {
    pinned = await options.policy.resolve(target.hostname);
  } catch (error) {
    // A refused range is final; a name that does not resolve may resolve later.
    const unresolved = (error as { cause?: unknown }).cause !== undefined;
    return {
      ok: false,
      retryable: unresolved,
      error: (error as Error).message.replace(/^input host/, "webhook host"),
    };
  }
  if (!https && parseAddress(pinned.address)?.range() !== "loopback")
    return {
      ok: false,
      retryable: false,
      error: "http:// webhooks are accepted only to loopback; use https://",
    };
  const lookup: LookupFunction = (_hostname, opts, callback) => {
    if ((opts as { all?: boolean }).all) callback(null, [pinned] as never);
    else callback(null, pinned.address, pinned.family);
  };
  const send = https ? httpsRequest : httpRequest;
  return new Promise<WebhookResult>((resolve) => {
    const req = send(
      target,
      {
        method: "POST",
        lookup,
        timeout: options.timeoutMs,
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "vdet-notify/1",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          resolve({
            ok,
            status,
            retryable: !ok && (status === 408 || status === 425 || status === 429 || status >= 500),
            error: ok
              ? undefined
              : `HTTP ${status}${status >= 300 && status < 400 ? " (redirects are not followed)" : ""}`,
          });
        });
        res.on("error", (error) => resolve({ ok: false, retryable: true, error: error.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no response within ${options.timeoutMs} ms`)));
    req.on("error", (error) =>
      resolve({ ok: false, retryable: true, error: (error as NodeJS.ErrnoException).code ?? error.message }),
    );
    req.end(body);
  });
}
