// Recognises an image format by its first bytes (the file name is not trusted), and describes unknown bytes
// so an error message can say what the file looks like instead.

export type ImageFormat = "png" | "jpeg";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  return bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** Formats we do not decode, to name them in errors. */
const OTHER_FORMATS: { name: string; test: (bytes: Uint8Array) => boolean }[] = [
  { name: "a GIF image", test: (b) => startsWith(b, ascii("GIF8")) },
  { name: "a BMP image", test: (b) => startsWith(b, ascii("BM")) },
  { name: "a WebP image", test: (b) => startsWith(b, ascii("RIFF")) && startsWith(b, ascii("WEBP"), 8) },
  {
    name: "a TIFF image",
    test: (b) => startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]),
  },
  { name: "an ISO media file (HEIC/AVIF/MP4)", test: (b) => startsWith(b, ascii("ftyp"), 4) },
  { name: "a PDF document", test: (b) => startsWith(b, ascii("%PDF")) },
];

export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return "png";
  if (startsWith(bytes, JPEG_SIGNATURE)) return "jpeg";
  return undefined;
}

/** "89 50 4e 47 …, a GIF image" style description of the first bytes. */
export function describeLeadingBytes(bytes: Uint8Array, count = 8): string {
  const hex = [...bytes.subarray(0, count)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const more = bytes.length > count ? " …" : "";
  const printable = [...bytes.subarray(0, count)].every((b) => b >= 0x20 && b < 0x7f);
  const text = printable ? ` "${String.fromCharCode(...bytes.subarray(0, count))}"` : "";
  const known = OTHER_FORMATS.find((f) => f.test(bytes));
  return `${hex}${more}${text}${known ? `, which looks like ${known.name}` : ""}`;
}
