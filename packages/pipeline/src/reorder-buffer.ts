// Puts a job's frames back in order: workers finish out of order, and a message can be delivered more than once
// (a stalled chunk redelivered, a result redelivered after a crash). Each index is released once, in order.

/** A reorder buffer as plain JSON, for checkpoints. */
export interface ReorderBufferState<T> {
  /** Next index to release. */
  next: number;
  /** Items that arrived ahead of `next`. */
  pending: [number, T][];
  /** Deliveries dropped because their index had already been accepted. */
  duplicates: number;
}

export class ReorderBuffer<T> {
  private nextIndex = 0;
  private readonly pending = new Map<number, T>();
  private duplicateCount = 0;

  /** Next index to release: every index before it has been released. */
  get next(): number {
    return this.nextIndex;
  }

  /** Deliveries dropped so far as duplicates. */
  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Items waiting for an earlier index. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Takes `item` for `index`; false (and counted as a duplicate) when that index was accepted before. */
  accept(index: number, item: T): boolean {
    if (index < this.nextIndex || this.pending.has(index)) {
      this.duplicateCount++;
      return false;
    }
    this.pending.set(index, item);
    return true;
  }

  /**
   * Yields the items that are contiguous from `next`, in index order. `next` moves past an item once the consumer
   * asks for the one after it: an item whose handling threw is accepted again when it is redelivered.
   */
  *release(): Generator<T, void, undefined> {
    while (this.pending.has(this.nextIndex)) {
      const item = this.pending.get(this.nextIndex)!;
      this.pending.delete(this.nextIndex);
      yield item;
      this.nextIndex++;
    }
  }

  serialize(): ReorderBufferState<T> {
    return { next: this.nextIndex, pending: [...this.pending], duplicates: this.duplicateCount };
  }

  static restore<T>(state: ReorderBufferState<T>): ReorderBuffer<T> {
    const buffer = new ReorderBuffer<T>();
    buffer.nextIndex = state.next;
    for (const [index, item] of state.pending) buffer.pending.set(index, item);
    buffer.duplicateCount = state.duplicates;
    return buffer;
  }
}
