// Recording a live input: an HLS stream over loopback is remuxed into ~1 s MPEG-TS segments whose descriptors
// carry the sampler across segments, so decoding every recorded segment on its own yields exactly the frames a
// sequential decode of the stream yields (indices, pts, pixels); a 404 segment is reported as a gap.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { collect, makeNumberedHls, useTempDir } from "../testing/clips.ts";
import { type FaultServer, startFaultServer } from "../testing/fault-server.ts";
import { describeFrame } from "../testing/segment-clips.ts";
import type { DecodedFrame } from "./decode.ts";
import type { Sampling } from "./filters.ts";
import type { Gap } from "./gaps.ts";
import { type RecordedSegment, recordLive } from "./live.ts";
import { decodeSegment } from "./segments.ts";

const dir = useTempDir("live");
let server: FaultServer;

before(async () => {
  await mkdir(join(dir.path, "hls"));
  // B-frames, closed GOPs of 0.6 s: recorded segments hold two GOPs or so and the playlist has 5 segments.
  await makeNumberedHls(join(dir.path, "hls"), {
    frames: 125,
    rate: 25,
    width: 160,
    height: 90,
    segmentSeconds: 0.6,
  });
  server = await startFaultServer(dir.path);
});

after(() => server.close());

async function record(sampling: Sampling, onGap?: (gap: Gap) => void): Promise<RecordedSegment[]> {
  const segments: RecordedSegment[] = [];
  for await (const segment of recordLive(`${server.base}/hls/index.m3u8`, {
    sampling,
    segmentSeconds: 1,
    ...(onGap ? { onGap } : {}),
  })) {
    segments.push(segment);
  }
  return segments;
}

describe("recordLive", () => {
  for (const sampling of [{ everyNth: 1 }, { everyNth: 4 }, { fps: 3 }] as Sampling[]) {
    test(`segments decoded one by one give the sequential decode (${JSON.stringify(sampling)})`, async () => {
      const sequential = await collect(`${server.base}/hls/index.m3u8`, { sampling });
      const segments = await record(sampling);
      assert.ok(segments.length >= 3, `${segments.length} segments`);
      assert.deepEqual(
        segments.map((s) => s.sequence),
        segments.map((_, i) => i),
      );
      for (const [i, s] of segments.entries()) {
        assert.ok(s.bytes.length > 0 && s.bytes[0] === 0x47, "MPEG-TS bytes");
        assert.ok(s.durationMs > 0 && s.durationMs < 2500, `segment ${i} lasts ${s.durationMs} ms`);
        if (i > 0)
          near(s.startPtsMs, segments[i - 1]!.startPtsMs + segments[i - 1]!.durationMs, `segment ${i} start`);
      }
      near(segments[0]!.startPtsMs, 0, "first segment starts at 0");
      // Decode in reverse order: nothing but the descriptor carries state between segments.
      const decoded: DecodedFrame[] = [];
      for (const segment of [...segments].reverse()) {
        if (segment.descriptor === undefined) continue;
        const frames: DecodedFrame[] = [];
        for await (const frame of decodeSegment(segment.bytes, segment.descriptor)) frames.push(frame);
        decoded.unshift(...frames);
      }
      assert.deepEqual(decoded.map(describeFrame), sequential.map(describeFrame));
    });
  }

  test("a segment that 404s while recording is reported as a gap", async () => {
    server.faults.set("hls/seg2.ts", "404");
    try {
      const gaps: Gap[] = [];
      const segments = await record({ everyNth: 1 }, (gap) => gaps.push(gap));
      assert.ok(segments.length >= 2);
      assert.equal(gaps.length, 1, JSON.stringify(gaps));
      assert.equal(gaps[0]!.reason, "unreachable");
      near(gaps[0]!.fromMs, 1200, "fromMs");
      near(gaps[0]!.toMs, 1800, "toMs");
    } finally {
      server.faults.clear();
    }
  });
});

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1, `${what}: ${actual}, expected ${expected}`);
}
