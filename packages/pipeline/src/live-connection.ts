// One live job's connection to its source, whichever path carries its frames (recorded segments, decoded frames):
// the connection state on the job record (STREAM_STATES), the gaps (holes inside a connection and the
// time lost to a reconnect), and the decision after a connection ends — stop, reconnect after a capped
// exponential backoff with jitter, or give up — by the job's reconnect policy. When the job's spec names `notify`,
// its state changes and the source's outages are sent as stream events (stream.state, stream.gap.started/ended).

import type { JobStore } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import type {
  Gap,
  JobConnection,
  JobRecord,
  NotificationType,
  NotifyTarget,
  StreamState,
} from "@vdet/protocol";
import {
  type DecodedFrame,
  NotAVideoError,
  VideoDecodeError,
  VideoNotFoundError,
  VideoStallError,
  VideoUnreachableError,
} from "@vdet/video";
import { backoffMs, type ReconnectPolicy, reconnectPolicy } from "./live-policy.ts";
import type { StageLogger } from "./logger.ts";
import { framePtsMs } from "./segments.ts";

type LostReason = "dropped" | "stalled" | "ended";

/**
 * Where a live job's stream events go (the producer role passes @vdet/notify's Notifier): `key` makes the event's
 * idempotency id. Never throws; the connection does not wait for delivery.
 */
export interface StreamEventSink {
  streamEvent(
    target: NotifyTarget | undefined,
    streamId: string,
    type: Extract<NotificationType, `stream.${string}`>,
    key: string,
    data: Record<string, unknown>,
  ): Promise<void>;
}

/**
 * Why a connection ended, for the gap and the metrics; undefined when the error is not one a reconnect can help
 * (a rejected input, an unsupported codec, a limit): the job ends with it.
 */
export function lostReason(error: unknown): LostReason | undefined {
  if (error === undefined) return "ended";
  if (error instanceof VideoStallError) return "stalled";
  if (
    error instanceof VideoUnreachableError ||
    error instanceof VideoNotFoundError ||
    error instanceof VideoDecodeError ||
    error instanceof NotAVideoError
  ) {
    return "dropped";
  }
  return undefined;
}

export class LiveConnection {
  readonly gaps: Gap[] = [];
  readonly policy: ReconnectPolicy;
  private connection: JobConnection;
  /** Since when the source has been gone (undefined: connected), and why. */
  private lost: { atMs: number; reason: LostReason; detail: string } | undefined;
  private attempt = 0;
  private readonly fields: { jobId: string; stage: string };
  private readonly hls: boolean;

  constructor(
    private readonly job: JobRecord,
    private readonly jobStore: JobStore,
    private readonly log: StageLogger,
    private readonly events?: StreamEventSink,
  ) {
    this.policy = reconnectPolicy(job.spec.reconnect);
    this.fields = { jobId: job.id, stage: "producer" };
    this.hls = /\.m3u8(\?|$)/i.test(job.spec.input);
    this.connection = { state: "connecting", sinceMs: Date.now(), reconnects: 0, gaps: 0 };
    metrics.liveConnection(undefined, "connecting");
  }

  async start(): Promise<void> {
    await this.jobStore.setConnection(this.job.id, this.connection);
  }

  /** A hole in the stream (inside a connection, or the time lost to a reconnect): manifest, errors, metrics. */
  addGap(gap: Gap): void {
    this.gaps.push(gap);
    this.connection.gaps += 1;
    metrics.error("producer", "gap");
    this.log.warn({ ...this.fields, ...gap }, "gap in the input");
    void this.jobStore
      .addError(this.job.id, {
        stage: "producer",
        message: `gap ${(gap.fromMs / 1000).toFixed(3)}–${(gap.toMs / 1000).toFixed(3)} s: ${gap.reason}${gap.detail ? ` (${gap.detail})` : ""}`,
      })
      .catch(() => {});
  }

  /**
   * A connection delivered its first frame at stream time `firstMs`, opened at `connectedAtMs`; `expectedMs` is
   * where the next frame was due after the last connection (undefined on the first). Records the reconnect's gap
   * when frames were lost.
   */
  async connected(expectedMs: number | undefined, firstMs: number, connectedAtMs: number): Promise<void> {
    const lost = this.lost;
    if (lost !== undefined && expectedMs !== undefined) {
      const toMs = Math.max(expectedMs, firstMs);
      metrics.liveReconnect(lost.reason, toMs - expectedMs);
      const gap: Gap = {
        fromMs: expectedMs,
        toMs,
        reason: lost.reason,
        detail: lost.detail,
        startedAtMs: lost.atMs,
        endedAtMs: connectedAtMs,
      };
      if (toMs - expectedMs >= 1) this.addGap(gap);
      this.notify("stream.gap.ended", String(lost.atMs), { ...gap, lostFrames: toMs - expectedMs >= 1 });
      this.log.info({ ...this.fields, gapMs: toMs - expectedMs, attempt: this.attempt }, "reconnected");
    }
    this.lost = undefined;
    this.attempt = 0;
    await this.setState("live");
  }

  /**
   * The connection ended, normally (`failure` undefined) or with `failure`. `expectedMs`: where the next frame was
   * due (undefined: nothing was ever received); `lastAtMs`: when the last data arrived. Returns "stop" (the stream
   * ended: an HLS playlist's EXT-X-ENDLIST), "reconnect" after waiting the backoff out, or the error that ends the
   * job (a failure a reconnect cannot help, a first connection that failed, or giving up).
   */
  async ended(
    failure: unknown,
    expectedMs: number | undefined,
    lastAtMs: number,
  ): Promise<"stop" | "reconnect" | { error: unknown }> {
    if (failure === undefined && this.hls) return "stop";
    const reason = lostReason(failure);
    // The first connection's failure is the input's problem (a wrong URL, a refused address): no reconnect.
    if (reason === undefined || expectedMs === undefined) {
      return failure === undefined ? "stop" : { error: failure };
    }
    const detail =
      failure === undefined
        ? "the stream ended"
        : failure instanceof Error
          ? failure.message
          : String(failure);
    if (this.lost === undefined) {
      this.lost = { atMs: lastAtMs || Date.now(), reason, detail };
      this.notify("stream.gap.started", String(this.lost.atMs), {
        fromMs: expectedMs,
        reason,
        detail,
        startedAtMs: this.lost.atMs,
      });
    }
    const goneMs = Date.now() - this.lost.atMs;
    if (this.policy.giveUpAfterMs > 0 && goneMs >= this.policy.giveUpAfterMs) {
      const gap: Gap = {
        fromMs: expectedMs,
        toMs: expectedMs + goneMs,
        reason: this.lost.reason,
        detail: `gave up reconnecting after ${Math.round(goneMs / 1000)} s: ${this.lost.detail}`,
        startedAtMs: this.lost.atMs,
        endedAtMs: Date.now(),
      };
      this.addGap(gap);
      this.notify("stream.gap.ended", String(this.lost.atMs), { ...gap, lostFrames: true, gaveUp: true });
      return {
        error: new Error(
          `the live input was gone for ${Math.round(goneMs / 1000)} s (reconnect.giveUpAfterMs ${this.policy.giveUpAfterMs}): ${this.lost.detail}`,
        ),
      };
    }
    const waitMs = backoffMs(this.policy, this.attempt);
    this.attempt += 1;
    this.connection.reconnects += 1;
    await this.setState("reconnecting", `${reason}: ${detail}`);
    this.log.warn(
      { ...this.fields, reason, detail, attempt: this.attempt, waitMs },
      "live input lost; reconnecting",
    );
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return "reconnect";
  }

  /** The job no longer reads the stream. */
  async stop(reason?: string): Promise<void> {
    await this.setState("stopped", reason).catch(() => {});
  }

  private async setState(state: StreamState, reason?: string): Promise<void> {
    const previous = this.connection.state;
    metrics.liveConnection(previous, state);
    const { reason: _old, ...rest } = this.connection;
    this.connection = { ...rest, state, sinceMs: Date.now(), ...(reason === undefined ? {} : { reason }) };
    await this.jobStore.setConnection(this.job.id, this.connection);
    // A failed attempt while reconnecting updates the record, not the state: no event.
    if (state !== previous) {
      const { sinceMs, reconnects, gaps } = this.connection;
      this.notify("stream.state", `${state}:${sinceMs}`, {
        state,
        previous,
        sinceMs,
        reconnects,
        gaps,
        ...(reason === undefined ? {} : { reason }),
      });
    }
  }

  /** Sends a stream event to the job's notify targets (if it names any), without waiting for its delivery. */
  private notify(
    type: Extract<NotificationType, `stream.${string}`>,
    key: string,
    data: Record<string, unknown>,
  ): void {
    const target = this.job.spec.notify;
    if (this.events === undefined || target === undefined) return;
    void this.events.streamEvent(target, this.job.id, type, key, data).catch((error: unknown) => {
      this.log.warn({ ...this.fields, err: (error as Error).message }, "stream event not sent");
    });
  }
}

/**
 * A live input's decoded frames across reconnects (the low-latency path): each connection is opened with `open`
 * (its holes reported through the given onGap), frame indices go on from the last connection, and a new
 * connection's frames are shifted to start after the last one by the wall-clock time lost, so ptsSeconds keeps
 * increasing. Ends when the stream ends or `cancelled()` says so; throws what ends the job.
 */
export async function* reconnectingFrames(
  live: LiveConnection,
  open: (onGap: (gap: Gap) => void) => Promise<AsyncIterable<DecodedFrame>>,
  cancelled: () => Promise<boolean>,
): AsyncGenerator<DecodedFrame> {
  let indexBase = 0;
  /** Where the next frame is due (sequential seconds); undefined until a frame came. */
  let expected: number | undefined;
  let lastAtMs = 0;
  for (;;) {
    const connectedAtMs = Date.now();
    let shift = 0;
    let first = true;
    let last: DecodedFrame | undefined;
    let failure: unknown;
    const onGap = (gap: Gap) =>
      live.addGap({ ...gap, fromMs: gap.fromMs + 1000 * shift, toMs: gap.toMs + 1000 * shift });
    try {
      for await (const frame of await open(onGap)) {
        if (first) {
          first = false;
          if (expected !== undefined) shift = expected + (connectedAtMs - lastAtMs) / 1000 - frame.ptsSeconds;
          // In the frame lines' own ms (framePtsMs), so the gap's bounds compare exactly with the lines' ptsMs.
          await live.connected(
            expected === undefined ? undefined : framePtsMs(expected),
            framePtsMs(frame.ptsSeconds + shift),
            connectedAtMs,
          );
        }
        const out = { ...frame, index: indexBase + frame.index, ptsSeconds: frame.ptsSeconds + shift };
        const step = last === undefined ? 0 : out.ptsSeconds - last.ptsSeconds;
        expected = out.ptsSeconds + (step > 0 ? step : 0.001);
        last = out;
        lastAtMs = Date.now();
        yield out;
      }
    } catch (error) {
      failure = error;
    }
    if (last !== undefined) indexBase = last.index + 1;
    if (await cancelled()) return;
    const then = await live.ended(failure, expected === undefined ? undefined : 1000 * expected, lastAtMs);
    if (then === "stop") return;
    if (then !== "reconnect") throw then.error;
  }
}
