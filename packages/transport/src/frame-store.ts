// Where frame pixels wait between producer and worker: binary values with a time to live, referenced by key
// from the (small) queue messages.

import type { DeploymentKeys, RedisClient } from "@vdet/jobs";

export interface FrameStore {
  put(key: string, data: Uint8Array, ttlSeconds: number): Promise<void>;
  /** The frame's bytes, or null when it expired or was never written. */
  get(key: string): Promise<Uint8Array | null>;
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export class MemoryFrameStore implements FrameStore {
  private readonly frames = new Map<string, { data: Uint8Array; expiresAtMs: number }>();

  async put(key: string, data: Uint8Array, ttlSeconds: number): Promise<void> {
    this.frames.set(key, { data, expiresAtMs: Date.now() + ttlSeconds * 1000 });
  }

  async get(key: string): Promise<Uint8Array | null> {
    const entry = this.frames.get(key);
    if (!entry) return null;
    if (entry.expiresAtMs < Date.now()) {
      this.frames.delete(key);
      return null;
    }
    return entry.data;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.frames.delete(key);
  }

  get size(): number {
    return this.frames.size;
  }

  async close(): Promise<void> {
    this.frames.clear();
  }
}

export class RedisFrameStore implements FrameStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: DeploymentKeys,
  ) {}

  async put(key: string, data: Uint8Array, ttlSeconds: number): Promise<void> {
    await this.redis.set(
      this.keys.frame(key),
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      "EX",
      ttlSeconds,
    );
  }

  async get(key: string): Promise<Uint8Array | null> {
    const value = await this.redis.getBuffer(this.keys.frame(key));
    return value ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : null;
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // On a Redis Cluster each frame is its own hash tag (keys.ts), and one UNLINK may not span slots: one each,
    // pipelined by ioredis per shard.
    if (this.keys.hashTags) await Promise.all(keys.map((k) => this.redis.unlink(this.keys.frame(k))));
    else await this.redis.unlink(...keys.map((k) => this.keys.frame(k)));
  }

  async close(): Promise<void> {}
}
