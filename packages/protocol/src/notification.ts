// Notifications of job and stream events (job-spec `notify`): the event a webhook receives as its JSON body and an
// SNS topic as its message, and the delivery log entry kept per job or stream. docs/live.md documents the format.

import { z } from "zod";
import type { jobIdSchema } from "./messages.ts";

export const NOTIFICATION_TYPES = [
  "job.completed",
  "job.failed",
  "job.cancelled",
  /** A stream's state changed (connecting, live, reconnecting, stopped). */
  "stream.state",
  /** A stream's source went away (a gap in its output began). */
  "stream.gap.started",
  /** The source came back; the gap's extent and reason are in `data`. */
  "stream.gap.ended",
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const notificationSchema = z
  .object({
    /**
     * Idempotency id: the same on every attempt and every re-send of this event (at-least-once delivery), so a
     * receiver that has seen it can ignore it. Also the `X-Vdet-Delivery` header and SNS MessageDeduplicationId.
     */
    id: z.string().min(1).max(256),
    type: z.enum(NOTIFICATION_TYPES),
    /** When the event happened, ISO 8601 (UTC). */
    at: z.iso.datetime(),
    /** What the event is about. */
    subject: z.object({ kind: z.enum(["job", "stream"]), id: z.string().min(1).max(200) }).strict(),
    /** The job or stream spec's notify.tag, when it names one. */
    tag: z.string().max(256).optional(),
    /** Details by type: a job's state, output and frame counts; a stream's state; a gap's start, end and reason. */
    data: z.record(z.string(), z.unknown()),
  })
  .strict();
export type Notification = z.infer<typeof notificationSchema>;

/** One attempt to deliver a notification to one target. */
export const notificationDeliverySchema = z
  .object({
    eventId: z.string().min(1).max(256),
    type: z.enum(NOTIFICATION_TYPES),
    channel: z.enum(["webhook", "sns"]),
    /** The webhook URL without its query, or the topic ARN. */
    target: z.string().max(2048),
    attempt: z.number().int().min(1),
    atMs: z.number(),
    ok: z.boolean(),
    /** The webhook's HTTP status, when one came back. */
    status: z.number().int().optional(),
    /** Why it failed (refused by the address policy, a network error, an SNS error). */
    error: z.string().max(2000).optional(),
    /** No further attempt follows (delivered, refused for good, or attempts used up). */
    final: z.boolean(),
  })
  .strict();
export type NotificationDelivery = z.infer<typeof notificationDeliverySchema>;

/** The idempotency id of a job's end: one per job and outcome, whoever sends it and however often. */
export function jobEndNotificationId(jobId: z.infer<typeof jobIdSchema>, state: string): string {
  return `job:${jobId}:${state}`;
}
