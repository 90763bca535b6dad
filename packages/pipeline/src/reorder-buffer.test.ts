import assert from "node:assert/strict";
import { test } from "node:test";
import { ReorderBuffer } from "./reorder-buffer.ts";

test("releases contiguous items in order and drops redeliveries as duplicates", () => {
  const buffer = new ReorderBuffer<string>();
  assert.equal(buffer.accept(1, "b"), true);
  assert.deepEqual([...buffer.release()], [], "index 0 has not arrived");
  assert.equal(buffer.accept(0, "a"), true);
  assert.equal(buffer.accept(3, "d"), true);
  assert.equal(buffer.accept(1, "b again"), false, "waiting index delivered twice");
  assert.deepEqual([...buffer.release()], ["a", "b"]);
  assert.equal(buffer.next, 2);
  assert.equal(buffer.accept(0, "a again"), false, "released index delivered again");
  assert.equal(buffer.duplicates, 2);
  assert.equal(buffer.waiting, 1);
});

test("serialize → JSON → restore keeps next, the waiting items and the duplicate count", () => {
  const buffer = new ReorderBuffer<{ n: number }>();
  buffer.accept(0, { n: 0 });
  buffer.accept(2, { n: 2 });
  buffer.accept(0, { n: 0 });
  [...buffer.release()];
  const restored = ReorderBuffer.restore<{ n: number }>(JSON.parse(JSON.stringify(buffer.serialize())));
  assert.deepEqual(restored.serialize(), { next: 1, pending: [[2, { n: 2 }]], duplicates: 1 });
  restored.accept(1, { n: 1 });
  assert.deepEqual(
    [...restored.release()].map((i) => i.n),
    [1, 2],
  );
});

test("an item whose handling threw is not released past: its redelivery is accepted", () => {
  const buffer = new ReorderBuffer<string>();
  buffer.accept(0, "a");
  buffer.accept(1, "b");
  assert.throws(() => {
    for (const item of buffer.release()) if (item === "b") throw new Error("tracking failed");
  });
  assert.equal(buffer.next, 1);
  assert.equal(buffer.accept(1, "b"), true);
  assert.deepEqual([...buffer.release()], ["b"]);
});
