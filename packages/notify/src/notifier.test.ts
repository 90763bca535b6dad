// The notifier against real local servers on loopback: a webhook receiver that fails once with a 500 and then
// checks the signature; a canary that a forbidden target must never reach; and a stand-in SNS endpoint speaking
// the Publish action of SNS's query protocol, reached through the real @aws-sdk/client-sns.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { SNSClient } from "@aws-sdk/client-sns";
import { InputPolicy } from "@vdet/input-policy";
import { MemoryNotificationStore } from "@vdet/jobs";
import { type Notification, notificationSchema } from "@vdet/protocol";
import { Notifier, streamNotification } from "./notifier.ts";
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verifySignature } from "./signature.ts";

const SECRET = "test-notify-secret-0123456789";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A loopback HTTP server answering each request with the next status of `statuses` (the last one repeats). */
async function receiver(
  statuses: number[],
  respond?: (req: Received) => { status: number; body: string },
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const got = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(got);
      if (respond) {
        const { status, body } = respond(got);
        res.writeHead(status, { "content-type": "text/xml" }).end(body);
        return;
      }
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, server };
}

const event: Notification = {
  id: "job:job_test1:completed",
  type: "job.completed",
  at: "2026-12-07T05:00:00.000Z",
  subject: { kind: "job", id: "job_test1" },
  tag: "camera-7",
  data: { state: "completed", output: "s3://bucket/out/" },
};

const loopbackAllowed = new InputPolicy({ allowAddresses: ["127.0.0.1/32"] });

test("a webhook is delivered with a valid signature, retried after a 500 with the same idempotency id, and logged", async () => {
  const hook = await receiver([500, 204]);
  const store = new MemoryNotificationStore();
  const notifier = new Notifier({ store, policy: loopbackAllowed, secret: SECRET, baseDelayMs: 20 });
  await notifier.send({ webhook: `${hook.url}/hooks/vdet?token=abc` }, event);

  assert.equal(hook.received.length, 2);
  for (const r of hook.received) {
    assert.ok(verifySignature(SECRET, r.body, r.headers[SIGNATURE_HEADER] as string), "bad signature");
    assert.equal(r.headers[DELIVERY_HEADER], event.id);
    assert.equal(r.headers[EVENT_HEADER], "job.completed");
    assert.equal(r.headers["content-type"], "application/json");
    assert.deepEqual(notificationSchema.parse(JSON.parse(r.body)), event);
  }
  // A body changed in transit, or signed with another secret, does not verify.
  const { body, headers } = hook.received[1];
  assert.ok(
    !verifySignature(SECRET, body.replace("camera-7", "camera-8"), headers[SIGNATURE_HEADER] as string),
  );
  assert.ok(!verifySignature("another-secret-0123456789", body, headers[SIGNATURE_HEADER] as string));

  const log = await store.deliveries(event.subject);
  assert.deepEqual(
    log.map((d) => [d.channel, d.attempt, d.ok, d.status, d.final]),
    [
      ["webhook", 1, false, 500, false],
      ["webhook", 2, true, 204, true],
    ],
  );
  // The query (it may carry a token) is not logged.
  assert.equal(log[0].target, `${hook.url}/hooks/vdet`);
  // Delivered: nothing is left in the outbox.
  assert.deepEqual(await store.pending(), []);
  await notifier.close();
});

test("a webhook in a forbidden range is refused and never reached, in any spelling of the address", async () => {
  const canary = await receiver([200]);
  const { port } = canary.server.address() as AddressInfo;
  const store = new MemoryNotificationStore();
  // The default policy: global unicast only (no loopback, private or link-local addresses).
  const notifier = new Notifier({ store, policy: new InputPolicy(), secret: SECRET, baseDelayMs: 1 });
  const targets = [
    `http://127.0.0.1:${port}/hook`,
    `http://localhost:${port}/hook`,
    `http://0x7f000001:${port}/hook`,
    `https://[::ffff:127.0.0.1]:${port}/hook`,
  ];
  for (const [i, webhook] of targets.entries()) {
    await notifier.send({ webhook }, { ...event, id: `forbidden-${i}` });
  }
  assert.equal(canary.received.length, 0, "the canary was reached");
  const log = await store.deliveries(event.subject);
  assert.equal(log.length, targets.length);
  for (const d of log) {
    assert.equal(d.ok, false);
    assert.equal(d.final, true, "a refused target is not retried");
    assert.match(d.error ?? "", /webhook host .* is not allowed: .*loopback/);
  }
  await notifier.close();
});

test("without a secret nothing is sent unsigned", async () => {
  const hook = await receiver([200]);
  const store = new MemoryNotificationStore();
  const unsigned = new Notifier({ store, policy: loopbackAllowed });
  await unsigned.send({ webhook: `${hook.url}/hook` }, event);
  assert.equal(hook.received.length, 0);
  assert.match((await store.deliveries(event.subject))[0].error ?? "", /no webhook secret/);
  await unsigned.close();
});

test("a stopped notifier leaves the event in the outbox, and the next one re-sends it with the same id", async () => {
  const hook = await receiver([503, 503, 503, 200]);
  const store = new MemoryNotificationStore();
  const first = new Notifier({ store, policy: loopbackAllowed, secret: SECRET, baseDelayMs: 60_000 });
  const sending = first.send({ webhook: `${hook.url}/hook` }, event);
  // Wait for the first attempt's log entry, then stop during the backoff.
  while ((await store.deliveries(event.subject)).length === 0) await new Promise((r) => setTimeout(r, 10));
  await first.close();
  await sending;
  assert.equal((await store.pending()).length, 1);

  const second = new Notifier({ store, policy: loopbackAllowed, secret: SECRET, baseDelayMs: 5 });
  assert.equal(await second.resume(), 1);
  while ((await store.pending()).length > 0) await new Promise((r) => setTimeout(r, 10));
  await second.close();
  assert.equal(hook.received.length, 4);
  assert.ok(hook.received.every((r) => r.headers[DELIVERY_HEADER] === event.id));
});

test("an SNS topic gets the event through @aws-sdk/client-sns (query protocol Publish), retried after a 500", async () => {
  let calls = 0;
  const sns = await receiver([], (req) => {
    calls++;
    if (calls === 1)
      return {
        status: 500,
        body: '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>InternalError</Code><Message>try again</Message></Error><RequestId>r1</RequestId></ErrorResponse>',
      };
    const form = new URLSearchParams(req.body);
    assert.equal(form.get("Action"), "Publish");
    return {
      status: 200,
      body: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${calls}</MessageId></PublishResult><ResponseMetadata><RequestId>r${calls}</RequestId></ResponseMetadata></PublishResponse>`,
    };
  });
  const store = new MemoryNotificationStore();
  const regions: string[] = [];
  const notifier = new Notifier({
    store,
    policy: new InputPolicy(),
    baseDelayMs: 5,
    sns: (region) => {
      regions.push(region);
      return new SNSClient({
        region,
        endpoint: sns.url,
        maxAttempts: 1,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
    },
  });
  const arn = "arn:aws:sns:eu-west-1:123456789012:vdet-jobs.fifo";
  // As the live-ingestion side sends a stream's events.
  await notifier.streamEvent(
    { snsTopicArn: arn, tag: "north" },
    "cam-1",
    "stream.gap.started",
    "1765083600000",
    {
      reason: "stalled",
    },
  );
  const gap = streamNotification(
    "cam-1",
    "stream.gap.started",
    "1765083600000",
    { reason: "stalled" },
    { tag: "north" },
  );
  assert.equal(sns.received.length, 2);
  const form = new URLSearchParams(sns.received[1].body);
  assert.equal(form.get("TopicArn"), arn);
  assert.deepEqual({ ...JSON.parse(form.get("Message")!), at: gap.at }, gap);
  assert.equal(gap.id, "stream:cam-1:gap.started:1765083600000");
  assert.equal(form.get("MessageAttributes.entry.1.Name"), "type");
  assert.equal(form.get("MessageAttributes.entry.1.Value.StringValue"), "stream.gap.started");
  assert.equal(form.get("MessageGroupId"), "stream-cam-1");
  assert.match(form.get("MessageDeduplicationId") ?? "", /^[0-9a-f]{64}$/);
  // The request is signed (SigV4) for the ARN's region.
  assert.match(
    String(sns.received[1].headers.authorization),
    /Credential=test\/\d{8}\/eu-west-1\/sns\/aws4_request/,
  );
  assert.ok(regions.length > 0 && regions.every((r) => r === "eu-west-1"));
  const log = await store.deliveries(gap.subject);
  assert.deepEqual(
    log.map((d) => [d.channel, d.attempt, d.ok, d.final]),
    [
      ["sns", 1, false, false],
      ["sns", 2, true, true],
    ],
  );
  assert.match(log[0].error ?? "", /InternalError/);
  await notifier.close();
});
