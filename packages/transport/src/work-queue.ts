// The queue interface between stages: at-least-once delivery of validated messages, with priorities,
// de-duplication by message id, and a dead-letter list for messages that can never be processed.

import { QUEUE_DEFAULTS } from "@vdet/config";
import { codedError } from "@vdet/errors";
import { TRANSPORT_ERRORS } from "./error-codes.ts";

export interface AddOptions {
  /** Deterministic id: adding a message whose id is still queued does nothing. */
  id?: string;
  /** 1 (highest) … 10; default 5. */
  priority?: number;
}

export interface DeliveryInfo {
  id: string;
  /** 1 on first delivery, higher on redelivery after a failure or a crashed consumer. */
  attempt: number;
  /** When the message was added (epoch ms). */
  addedAtMs: number;
}

export type Handler<T> = (message: T, delivery: DeliveryInfo) => Promise<void>;

/** A message's priority as every queue reads `add`'s options. */
export function messagePriority(options: AddOptions): number {
  return options.priority ?? QUEUE_DEFAULTS.priority;
}

export interface ConsumeOptions {
  /** Messages handled at the same time by this consumer. */
  concurrency?: number;
}

/** A consumer's concurrency as every queue reads `consume`'s options: at least 1. */
export function consumerConcurrency(options: ConsumeOptions): number {
  return Math.max(1, options.concurrency ?? 1);
}

export interface Consumer {
  /** Stops taking new messages, waits for the ones in hand, then releases resources. */
  close(): Promise<void>;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface DeadLetter {
  id: string;
  reason: string;
  data: unknown;
}

export interface WorkQueue<T> {
  readonly name: string;
  add(message: T, options?: AddOptions): Promise<void>;
  /** Handles messages until closed; a handler that throws gets the message again (bounded attempts). */
  consume(handler: Handler<T>, options?: ConsumeOptions): Consumer;
  counts(): Promise<QueueCounts>;
  /** Consumers connected to this queue now, across all processes (autoscaling: backlog per worker). */
  consumerCount(): Promise<number>;
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

/** Thrown by a handler (or raised by validation) for a message that must not be retried. */
export class UnprocessableMessageError extends codedError(TRANSPORT_ERRORS.UNPROCESSABLE_MESSAGE) {}

export const DEFAULT_ATTEMPTS = 5;
