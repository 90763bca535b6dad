// The webhook signature: HMAC-SHA256 over the exact body bytes with the deployment's secret (VDET_NOTIFY_SECRET),
// hex, in the X-Vdet-Signature header as `sha256=<hex>` (GitHub's X-Hub-Signature-256 convention).

import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-vdet-signature";
/** The event's idempotency id (the same on every attempt). */
export const DELIVERY_HEADER = "x-vdet-delivery";
export const EVENT_HEADER = "x-vdet-event";

/** `sha256=<hex HMAC-SHA256 of body>`. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Whether `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifySignature(
  secret: string,
  body: string | Uint8Array,
  header: string | undefined,
): boolean {
  if (typeof header !== "string") return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
