// Just enough of the zip format for PyTorch checkpoints: walk the central directory (zip64 included), hand out
// stored entries as views on the file (torch stores tensors uncompressed and 64-byte aligned) and inflate deflated
// ones with fflate. fflate's own unzipSync copies every stored entry, which doubles memory for a 300 MB file.

import * as zlib from "node:zlib";
import { inflateSync } from "fflate";
import { TensorFileError } from "./tensor.ts";

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

function damaged(what: string): never {
  throw new TensorFileError(`zip archive is damaged or truncated: ${what}`);
}

let crcTable: Int32Array | undefined;

function crc32Js(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** zlib.crc32 exists from Node 20.15; the table version covers older 20.x. */
const crc32: (bytes: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (bytes) => (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(bytes) >>> 0
    : crc32Js;

export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = this.readCentralDirectory();
  }

  private u16(at: number): number {
    return this.view.getUint16(at, true);
  }

  private u32(at: number): number {
    return this.view.getUint32(at, true);
  }

  private u64(at: number): number {
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) damaged(`64-bit field at byte ${at} is out of range`);
    return Number(value);
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    const { bytes } = this;
    let eocd = -1;
    for (let at = bytes.length - 22; at >= 0 && at >= bytes.length - 22 - 0xffff; at--) {
      if (this.u32(at) === EOCD) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) damaged("end of central directory not found");
    let count = this.u16(eocd + 10);
    let offset = this.u32(eocd + 16);
    if (eocd >= 20 && this.u32(eocd - 20) === ZIP64_LOCATOR) {
      const zip64 = this.u64(eocd - 12);
      if (zip64 + 56 > bytes.length || this.u32(zip64) !== ZIP64_EOCD) damaged("zip64 end record not found");
      count = this.u64(zip64 + 32);
      offset = this.u64(zip64 + 48);
    }
    const entries = new Map<string, ZipEntry>();
    let at = offset;
    for (let i = 0; i < count; i++) {
      if (at + 46 > bytes.length || this.u32(at) !== CENTRAL_HEADER)
        damaged(`central directory entry ${i} missing`);
      const flags = this.u16(at + 8);
      const nameLength = this.u16(at + 28);
      const extraLength = this.u16(at + 30);
      const commentLength = this.u16(at + 32);
      if (at + 46 + nameLength + extraLength > bytes.length) damaged(`central directory entry ${i} cut off`);
      const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
      if (flags & 1) throw new TensorFileError(`zip entry "${name}" is encrypted`);
      let size = this.u32(at + 24);
      let compressedSize = this.u32(at + 20);
      let localHeaderOffset = this.u32(at + 42);
      // zip64 extended information: the 0xFFFFFFFF fields, in this order
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = this.u16(extra);
        const length = this.u16(extra + 2);
        if (id === 0x0001) {
          let field = extra + 4;
          if (size === 0xffffffff) [size, field] = [this.u64(field), field + 8];
          if (compressedSize === 0xffffffff) [compressedSize, field] = [this.u64(field), field + 8];
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = this.u64(field);
        }
        extra += 4 + length;
      }
      entries.set(name, {
        name,
        method: this.u16(at + 10),
        compressedSize,
        size,
        crc32: this.u32(at + 16),
        localHeaderOffset,
      });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  }

  /** The entry's content, CRC-checked: a view on the archive when stored, a new array when deflated. */
  read(entry: ZipEntry): Uint8Array {
    const { bytes } = this;
    const local = entry.localHeaderOffset;
    if (local + 30 > bytes.length || this.u32(local) !== LOCAL_HEADER)
      damaged(`local header of "${entry.name}"`);
    const start = local + 30 + this.u16(local + 26) + this.u16(local + 28);
    if (start + entry.compressedSize > bytes.length)
      damaged(`data of "${entry.name}" runs past the end of the file`);
    const raw = bytes.subarray(start, start + entry.compressedSize);
    let content: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size)
        damaged(`stored entry "${entry.name}" has two different sizes`);
      content = raw;
    } else if (entry.method === 8) {
      try {
        content = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (error) {
        return damaged(`cannot inflate "${entry.name}": ${(error as Error).message}`);
      }
      if (content.length !== entry.size)
        damaged(`"${entry.name}" inflates to ${content.length} of ${entry.size} bytes`);
    } else {
      throw new TensorFileError(
        `zip entry "${entry.name}" uses compression method ${entry.method} (only 0 and 8)`,
      );
    }
    if (crc32(content) !== entry.crc32) damaged(`CRC-32 mismatch in "${entry.name}"`);
    return content;
  }
}
