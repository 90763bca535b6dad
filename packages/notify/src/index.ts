// @vdet/notify: notifications of job and stream events (job-spec `notify`): HMAC-signed webhooks through the
// deployment's address policy and SNS topics, retried with backoff, logged per job; the format is in docs/live.md.
export {
  jobEndNotification,
  NOTIFY_DEFAULTS,
  Notifier,
  type NotifierLogger,
  type NotifierOptions,
  notifyJobEnds,
  streamNotification,
} from "./notifier.ts";
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signBody, verifySignature } from "./signature.ts";
export { publishSns, snsClientFactory, topicRegion } from "./sns.ts";
export { postWebhook, type WebhookResult } from "./webhook.ts";
