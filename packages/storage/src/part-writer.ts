// Writes one growing output (tracks.jsonl) as numbered part objects, `tracks/part-000001.jsonl`, … and joins
// them into the final object at the end. Each part is a whole-object PUT, so it is durable and visible as soon
// as it is written and never half-written; its key depends only on the output and the part number, so writing
// it again after a crash replaces it with the same bytes. The caller checkpoints `partsWritten` after flush()
// and passes it back to open() to resume. See docs/storage.md for why parts rather than one multipart upload.

import { Readable } from "node:stream";
import { AGGREGATOR_DEFAULTS } from "@vdet/config";
import { InvariantError } from "@vdet/errors";
import { InvalidKeyError, PartsMissingError } from "./errors.ts";
import { validateKey, validatePrefix } from "./keys.ts";
import type { Sink } from "./sink.ts";

export interface PartWriterOptions {
  /** The final object, e.g. "tracks.jsonl". */
  key: string;
  /** Where the parts go; default: the key without its extension, as a folder ("tracks/"). */
  partsPrefix?: string;
  /** A part is written once this many bytes are buffered (appends are never split across parts). */
  partSizeBytes?: number;
  /** Parts already written, from the caller's checkpoint; 0 for a new output. */
  partsWritten?: number;
  contentType?: string;
  /** Leave the parts in place after finish() (by default they are deleted once the final object exists). */
  keepParts?: boolean;
}

export interface FinishResult {
  readonly parts: number;
  readonly sizeBytes: number;
}

const INDEX_DIGITS = 6;
const MAX_PARTS = 10 ** INDEX_DIGITS - 1;

type State = "open" | "finishing" | "finished";

export class PartWriter {
  private buffer: Buffer[] = [];
  private buffered = 0;
  private written: number;
  private tail: Promise<unknown> = Promise.resolve();
  private finishedSize: number | undefined;
  private readonly extension: string;
  private readonly partsPrefix: string;
  private readonly partSizeBytes: number;

  private constructor(
    private readonly sink: Sink,
    private readonly options: PartWriterOptions,
    private state: State,
  ) {
    const name = options.key.slice(options.key.lastIndexOf("/") + 1);
    const dot = name.lastIndexOf(".");
    this.extension = dot > 0 ? name.slice(dot) : "";
    this.partsPrefix =
      options.partsPrefix ?? `${options.key.slice(0, options.key.length - this.extension.length)}/`;
    this.partSizeBytes = options.partSizeBytes ?? AGGREGATOR_DEFAULTS.tracksPartBytes;
    this.written = options.partsWritten ?? 0;
  }

  /**
   * Opens the writer at the checkpoint `options.partsWritten`: deletes parts past it (written before a crash,
   * written again from the checkpoint), and checks that the parts before it are there. Parts gone with the
   * final object present mean an earlier finish() was interrupted while deleting them; finish() completes it.
   */
  static async open(sink: Sink, options: PartWriterOptions): Promise<PartWriter> {
    validateKey(options.key);
    const partsWritten = options.partsWritten ?? 0;
    if (!Number.isInteger(partsWritten) || partsWritten < 0 || partsWritten > MAX_PARTS) {
      throw new RangeError(`partsWritten must be a whole number from 0 to ${MAX_PARTS}, got ${partsWritten}`);
    }
    const writer = new PartWriter(sink, options, "open");
    validatePrefix(writer.partsPrefix);
    if (writer.partsPrefix === "" || options.key.startsWith(writer.partsPrefix)) {
      throw new InvalidKeyError(
        writer.partsPrefix,
        `parts prefix must be a folder apart from ${options.key}`,
      );
    }
    const present = await writer.listParts();
    for (const index of present.keys()) {
      if (index > partsWritten) await sink.delete(writer.partKey(index));
    }
    const missing: number[] = [];
    for (let index = 1; index <= partsWritten; index++) if (!present.has(index)) missing.push(index);
    if (missing.length > 0) {
      // Parts are deleted in order after the final object is complete, so only a run 1..m may be gone.
      const deletedInOrder = missing.every((index, i) => index === i + 1);
      if (!deletedInOrder || !(await sink.exists(options.key))) {
        throw new PartsMissingError(writer.partsUri(), missing);
      }
      writer.state = "finishing";
    }
    return writer;
  }

  /** Parts written so far: the value to checkpoint after flush(). */
  get partsWritten(): number {
    return this.written;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Where the parts are, for messages. */
  private partsUri(): string {
    return `${this.sink.uri.replace(/\/?$/, "/")}${this.partsPrefix}`;
  }

  partKey(index: number): string {
    return `${this.partsPrefix}part-${String(index).padStart(INDEX_DIGITS, "0")}${this.extension}`;
  }

  /** Runs operations one after another; a failed one rejects its own caller and does not block the next. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.tail.then(operation);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private checkOpen(action: string): void {
    if (this.state !== "open")
      throw new InvariantError(`cannot ${action}: ${this.options.key} is already ${this.state}`);
  }

  /** Buffers `data` (whole lines, for JSONL) and writes a part once enough is buffered. */
  append(data: string | Uint8Array): Promise<void> {
    return this.serial(async () => {
      this.checkOpen("append");
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
      this.buffer.push(bytes);
      this.buffered += bytes.byteLength;
      if (this.buffered >= this.partSizeBytes) await this.writePart();
    });
  }

  /** Writes what is buffered as a part (nothing when empty); returns partsWritten, to checkpoint. */
  flush(): Promise<number> {
    return this.serial(async () => {
      if (this.state === "open" && this.buffered > 0) await this.writePart();
      return this.written;
    });
  }

  private async writePart(): Promise<void> {
    const index = this.written + 1;
    if (index > MAX_PARTS)
      throw new RangeError(`${this.options.key}: more than ${MAX_PARTS} parts; raise partSizeBytes`);
    const body = Buffer.concat(this.buffer);
    // Create-only as a second guard: a rewrite after a crash finds its own identical bytes; another writer's
    // different bytes throw ObjectConflictError (where the store honours If-None-Match).
    await this.sink.put(this.partKey(index), body, { ifAbsent: true, contentType: this.options.contentType });
    this.written = index;
    this.buffer = [];
    this.buffered = 0;
  }

  private async listParts(): Promise<Map<number, number>> {
    const pattern = new RegExp(
      `^part-(\\d{${INDEX_DIGITS}})${this.extension.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    );
    const parts = new Map<number, number>();
    for await (const page of this.sink.list(`${this.partsPrefix}part-`)) {
      for (const object of page) {
        const match = pattern.exec(object.key.slice(this.partsPrefix.length));
        if (match) parts.set(Number(match[1]), object.sizeBytes);
      }
    }
    return parts;
  }

  /**
   * Writes the last part, joins all parts in order into the final object (atomically: one upload) and then
   * deletes the parts in order. Safe to call again after a crash at any point.
   */
  finish(): Promise<FinishResult> {
    return this.serial(async () => {
      if (this.state === "open") {
        if (this.buffered > 0) await this.writePart();
        const present = await this.listParts();
        const missing: number[] = [];
        let sizeBytes = 0;
        for (let index = 1; index <= this.written; index++) {
          const size = present.get(index);
          if (size === undefined) missing.push(index);
          else sizeBytes += size;
        }
        if (missing.length > 0) throw new PartsMissingError(this.partsUri(), missing);
        await this.sink.upload(this.options.key, Readable.from(this.partChunks(), { objectMode: false }), {
          contentType: this.options.contentType,
        });
        this.state = "finishing";
        this.finishedSize = sizeBytes;
      }
      if (this.state === "finishing" && !this.options.keepParts) {
        for (let index = 1; index <= this.written; index++) await this.sink.delete(this.partKey(index));
      }
      this.state = "finished";
      return { parts: this.written, sizeBytes: this.finishedSize ?? (await this.finalSize()) };
    });
  }

  private async finalSize(): Promise<number> {
    for await (const page of this.sink.list(this.options.key)) {
      const found = page.find((object) => object.key === this.options.key);
      if (found) return found.sizeBytes;
    }
    return 0;
  }

  private async *partChunks(): AsyncGenerator<Uint8Array> {
    for (let index = 1; index <= this.written; index++) {
      for await (const chunk of this.sink.read(this.partKey(index))) yield chunk as Uint8Array;
    }
  }
}
