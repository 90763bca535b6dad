// Publishing a notification to an SNS topic with @aws-sdk/client-sns: the event's JSON as the message, its type as
// a message attribute (for subscription filter policies), and on a FIFO topic the subject as the message group and
// the idempotency id as the deduplication id.

import { createHash } from "node:crypto";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Notification } from "@vdet/protocol";

export interface SnsResult {
  ok: boolean;
  retryable: boolean;
  status?: number;
  error?: string;
  messageId?: string;
}

/** The region of an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME). */
export function topicRegion(arn: string): string {
  return arn.split(":")[3] ?? "";
}

/** An SNS client per region (endpoint: VDET_SNS_ENDPOINT, e.g. a local stand-in; credentials: the SDK's chain). */
export function snsClientFactory(options: { endpoint?: string } = {}): (region: string) => SNSClient {
  const clients = new Map<string, SNSClient>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      // Retries are the notifier's (with the delivery log), not the SDK's.
      client = new SNSClient({ region, endpoint: options.endpoint, maxAttempts: 1 });
      clients.set(region, client);
    }
    return client;
  };
}

export async function publishSns(
  client: SNSClient,
  topicArn: string,
  event: Notification,
  body: string,
): Promise<SnsResult> {
  const fifo = topicArn.endsWith(".fifo");
  try {
    const out = await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: body,
        Subject: `vdet ${event.type}`,
        MessageAttributes: { type: { DataType: "String", StringValue: event.type } },
        ...(fifo
          ? {
              MessageGroupId: `${event.subject.kind}-${event.subject.id}`.slice(0, 128),
              MessageDeduplicationId: createHash("sha256").update(event.id).digest("hex"),
            }
          : {}),
      }),
    );
    return { ok: true, retryable: false, messageId: out.MessageId };
  } catch (error) {
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const retryable =
      status === undefined || status >= 500 || status === 429 || e.name === "ThrottlingException";
    return { ok: false, retryable, status, error: `${e.name ?? "Error"}: ${e.message ?? String(error)}` };
  }
}
