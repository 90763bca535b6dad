// Dynamic batcher (Triton-style): requests queue up and run together when `maxBatch` are waiting or the oldest
// has waited `maxDelayMs`. One batch runs at a time per batcher; requests arriving meanwhile form the next one.

export interface BatcherOptions<I, O> {
  maxBatch: number;
  maxDelayMs: number;
  run: (items: I[]) => Promise<O[]>;
}

interface Pending<I, O> {
  item: I;
  arrivedAtMs: number;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  /** Sizes of the batches run so far (for metrics and tests). */
  readonly batchSizes: number[] = [];

  constructor(private readonly options: BatcherOptions<I, O>) {
    if (!(options.maxBatch >= 1)) throw new RangeError("maxBatch must be at least 1");
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, arrivedAtMs: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length >= this.options.maxBatch) {
      void this.runBatch();
    } else if (!this.timer && this.queue.length > 0) {
      // The oldest request's wait counts from its arrival, not from when the previous batch ended.
      const waited = performance.now() - this.queue[0].arrivedAtMs;
      this.timer = setTimeout(() => void this.runBatch(), Math.max(0, this.options.maxDelayMs - waited));
    }
  }

  private async runBatch(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.batchSizes.push(batch.length);
    try {
      const outputs = await this.options.run(batch.map((p) => p.item));
      if (outputs.length !== batch.length)
        throw new Error(`batch of ${batch.length} gave ${outputs.length} results`);
      batch.forEach((p, i) => {
        p.resolve(outputs[i]);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
