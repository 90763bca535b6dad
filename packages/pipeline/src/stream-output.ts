// A stream's output (job spec `stream`): tracks.jsonl as one part per `partMinutes` of wall time,
// `tracks/<start>.jsonl` (start in UTC, yyyymmddThhmmssZ), plus a rolling manifest, tracks.parts.json, listing the
// parts, so that a stream that runs for weeks never grows one object without bound. Each part is written like a
// job's tracks.jsonl (a PartWriter: numbered pieces under `tracks/<start>/`, joined into the part when its window
// is over).
//
// Exactly once across aggregator restarts: the write position (the open window, the windows closed and not yet
// joined) is part of the aggregator's checkpoint. A window is closed at the first append after its time is up:
// what it buffered is written as a piece, the new window starts with the appended lines written as its first piece
// (so an append that moves the write position leaves nothing buffered, as JobOutput requires). A closed window is
// joined only after a checkpoint that records it closed was saved (`committed()`): a restart from an earlier
// checkpoint reopens it as the open window, removes its pieces past the checkpoint and writes them again.

import { STREAM_DEFAULTS, STREAM_MANIFEST, type StreamPart, type StreamPartsManifest } from "@vdet/protocol";
import { PartWriter, type Sink, STORAGE_ERRORS } from "@vdet/storage";
import type { JobOutput, TimePartsPosition, TimeWindowPosition } from "./job-output.ts";

export interface StreamOutputOptions {
  /** Minutes of wall time per part. */
  partMinutes: number;
  /** The checkpointed position, for a restarted aggregator. */
  resume?: TimePartsPosition;
  /** Pieces of an open part are written once this many bytes are buffered (default: the PartWriter's). */
  pieceBytes?: number;
  /** The clock (tests). */
  now?: () => number;
}

const PARTS_FOLDER = "tracks/";
const CONTENT_TYPE = "application/x-ndjson";

/** `20261207T051000Z`: a window's start as it names the part. */
function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "");
}

function partKey(startMs: number): string {
  return `${PARTS_FOLDER}${stamp(startMs)}.jsonl`;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** A stream's tracks output; events.jsonl, when the stream has zones, is added by openSinkOutput. */
export type StreamTracksOutput = Omit<JobOutput, "appendEvents" | "eventsPartsWritten" | "flushEvents">;

export async function openStreamOutput(
  sink: Sink,
  options: StreamOutputOptions,
): Promise<StreamTracksOutput> {
  const windowMs = Math.round(options.partMinutes * 60_000);
  const now = options.now ?? Date.now;
  const position: TimePartsPosition = structuredClone(
    options.resume ?? { base: 0, current: null, closing: [] },
  );
  /** Closed windows a saved checkpoint records: these may be joined. */
  let joinable = position.closing.length;
  const manifest = await readManifest(sink);
  const openWriter = (window: TimeWindowPosition) =>
    PartWriter.open(sink, {
      key: partKey(window.startMs),
      contentType: CONTENT_TYPE,
      partsWritten: window.partsWritten,
      partSizeBytes: options.pieceBytes,
    });
  let writer = position.current ? await openWriter(position.current) : null;
  /** Lines and bytes appended to the open window and not yet in a piece. */
  let bufferedLines = 0;
  let bufferedBytes = 0;
  await removeStalePieces(sink, position);

  const writeManifest = async (complete: boolean) => {
    const open = position.current;
    const listed: StreamPart[] = manifest.parts.filter((p) => p.complete);
    for (const window of [...position.closing, ...(open ? [open] : [])]) {
      listed.push({
        key: partKey(window.startMs),
        start: new Date(window.startMs).toISOString(),
        end: null,
        lines: window.lines,
        sizeBytes: window.sizeBytes,
        complete: false,
      });
    }
    const dropped = Math.max(0, listed.length - STREAM_DEFAULTS.manifestParts);
    const body: StreamPartsManifest = {
      vdet: "stream-parts/1",
      partMinutes: options.partMinutes,
      complete,
      updatedAt: new Date(now()).toISOString(),
      unlisted: manifest.unlisted + dropped,
      parts: listed.slice(dropped),
    };
    await sink.put(STREAM_MANIFEST, `${JSON.stringify(body, null, 2)}\n`, {
      contentType: "application/json",
    });
  };

  /** Counts the buffered lines into the open window once a piece holds them. */
  const settle = (partsBefore: number) => {
    if (!writer || !position.current || writer.partsWritten === partsBefore) return;
    position.current.lines += bufferedLines;
    position.current.sizeBytes += bufferedBytes;
    position.current.partsWritten = writer.partsWritten;
    bufferedLines = 0;
    bufferedBytes = 0;
  };

  /** Joins the closed windows a saved checkpoint records, and lists them as complete parts. */
  const joinClosed = async () => {
    if (joinable === 0) return;
    const ready = position.closing.slice(0, joinable);
    for (const window of ready) {
      const closed = await openWriter(window);
      const { sizeBytes } = await closed.finish();
      const key = partKey(window.startMs);
      manifest.parts = manifest.parts.filter((p) => p.key !== key);
      manifest.parts.push({
        key,
        start: new Date(window.startMs).toISOString(),
        end: new Date(window.lastAtMs).toISOString(),
        lines: window.lines,
        sizeBytes,
        complete: true,
      });
      position.closing.shift();
      joinable--;
    }
    const excess = manifest.parts.length - STREAM_DEFAULTS.manifestParts;
    if (excess > 0) {
      manifest.parts.splice(0, excess);
      manifest.unlisted += excess;
    }
    await writeManifest(false);
  };

  /** Closes the open window (its buffered lines written as a piece) and opens the one `atMs` falls in. */
  const roll = async (atMs: number) => {
    if (writer && position.current) {
      const before = writer.partsWritten;
      await writer.flush();
      settle(before);
      position.base += position.current.partsWritten;
      position.closing.push(position.current);
    }
    position.current = {
      startMs: Math.floor(atMs / windowMs) * windowMs,
      partsWritten: 0,
      lines: 0,
      sizeBytes: 0,
      lastAtMs: atMs,
    };
    writer = await openWriter(position.current);
    await writeManifest(false);
  };

  return {
    location: sink.uri,
    tracksIndex: STREAM_MANIFEST,
    get tracksPartsWritten() {
      return position.base + (position.current?.partsWritten ?? 0);
    },
    get timeParts() {
      return structuredClone(position);
    },
    committed: () => {
      joinable = position.closing.length;
    },
    appendTracks: async (text) => {
      await joinClosed();
      const atMs = now();
      const rolled = !position.current || atMs >= position.current.startMs + windowMs;
      if (rolled) await roll(atMs);
      const open = position.current!;
      const before = writer!.partsWritten;
      await writer!.append(text);
      bufferedLines += countLines(text);
      bufferedBytes += Buffer.byteLength(text);
      open.lastAtMs = atMs;
      // The first lines of a new window are written at once: the position moved, so nothing may stay buffered.
      if (rolled && writer!.partsWritten === before) await writer!.flush();
      settle(before);
    },
    flushTracks: async () => {
      await joinClosed();
      if (writer) {
        const before = writer.partsWritten;
        await writer.flush();
        settle(before);
      }
      return position.base + (position.current?.partsWritten ?? 0);
    },
    put: async (name, body, contentType) => {
      await sink.put(name, body, { contentType });
    },
    upload: (name, body, contentType) => sink.upload(name, body, { contentType }),
    finish: async () => {
      // Called after beginFinishing's checkpoint: everything is in pieces and recorded; join every window.
      if (writer && position.current) {
        await writer.flush();
        position.closing.push(position.current);
        position.current = null;
        writer = null;
      }
      joinable = position.closing.length;
      await joinClosed();
      await writeManifest(true);
    },
  };
}

/** The manifest written before (a restart), or an empty one. */
async function readManifest(sink: Sink): Promise<{ parts: StreamPart[]; unlisted: number }> {
  try {
    const body = JSON.parse(
      Buffer.from(await sink.get(STREAM_MANIFEST)).toString("utf8"),
    ) as StreamPartsManifest;
    return { parts: body.parts.filter((p) => p.complete), unlisted: body.unlisted };
  } catch (error) {
    if ((error as { code?: unknown }).code === STORAGE_ERRORS.OBJECT_NOT_FOUND)
      return { parts: [], unlisted: 0 };
    throw error;
  }
}

/**
 * Pieces of windows newer than the checkpoint's open one were written by an aggregator that stopped before its next
 * checkpoint: nothing refers to them, and their lines are written again from the checkpoint.
 */
async function removeStalePieces(sink: Sink, position: TimePartsPosition): Promise<void> {
  const known = new Set(
    [...position.closing, ...(position.current ? [position.current] : [])].map((w) => stamp(w.startMs)),
  );
  const newest = position.current?.startMs ?? position.closing.at(-1)?.startMs ?? -1;
  for await (const page of sink.list(PARTS_FOLDER)) {
    for (const object of page) {
      const match = /^tracks\/(\d{8}T\d{6}Z)\/part-\d+\.jsonl$/.exec(object.key);
      if (!match || known.has(match[1])) continue;
      const startMs = Date.parse(
        match[1].replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"),
      );
      if (startMs > newest) await sink.delete(object.key);
    }
  }
}
