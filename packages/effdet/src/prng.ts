// Deterministic pseudo-random numbers keyed by tensor name: fnv1a32 hash + mulberry32 (the generator the D3
// parity fixture uses for its conv weights), so seeded weights do not depend on build order.

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: returns a function yielding uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Fills `out` with float32((2u - 1) * bound), u uniform in [0, 1) with 24-bit resolution. */
export function fillUniform(out: Float32Array, seed: number, bound: number): Float32Array {
  const next = mulberry32(seed);
  for (let i = 0; i < out.length; i++) {
    const u = (next() >>> 8) * 2 ** -24;
    out[i] = (2 * u - 1) * bound;
  }
  return out;
}
