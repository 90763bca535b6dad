// The one in-memory image layout of vdet: what decoders produce, the frame store carries between stages, the
// model reads and the renderer draws into.

/** An RGB24 image: width × height × 3 bytes, rows top to bottom, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}
