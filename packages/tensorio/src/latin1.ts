// Bytes as ISO-8859-1 text, one char per byte. TextDecoder's "latin1" label is windows-1252 (0x89 → "‰") on
// Node 24, which breaks byte-exact reads: magic numbers and Python 2 strings in pickles.

export function decodeLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}
