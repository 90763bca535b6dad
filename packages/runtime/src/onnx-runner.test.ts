// The onnxruntime runner end to end on small models built in the test: results, tensor hand-over, ordering,
// errors from the worker, and close().

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { addReluModel, boolOutputModel, identityModel } from "../testing/tiny-models.ts";
import { InvalidTensorError, ModelRunError, RunnerClosedError, SessionLoadError } from "./errors.ts";
import { createOnnxRunner } from "./onnx-runner.ts";
import type { ModelRunner, TensorLike } from "./runner.ts";

const f32 = (dims: number[], values: number[]): TensorLike => ({
  type: "float32",
  dims,
  data: new Float32Array(values),
});

function workerCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "MessagePort").length;
}

describe("onnx runner on Add+Relu", () => {
  let runner: ModelRunner;
  before(async () => {
    runner = await createOnnxRunner(addReluModel(), { executionProvider: "cpu", intraOpThreads: 1 });
  });
  after(() => runner.close());

  test("reports input and output names and computes relu(a + b)", async () => {
    assert.deepEqual(runner.inputNames, ["a", "b"]);
    assert.deepEqual(runner.outputNames, ["y"]);
    const out = await runner.run({
      a: f32([2, 3], [1, -5, 3, 0.5, 0, -1]),
      b: f32([2, 3], [1, 1, 1, 0, 0, 0]),
    });
    assert.deepEqual(Object.keys(out), ["y"]);
    assert.equal(out.y.type, "float32");
    assert.deepEqual(out.y.dims, [2, 3]);
    assert.deepEqual([...out.y.data], [2, 0, 4, 0.5, 0, 0]);
  });

  test("takes over whole-buffer feeds without copying, copies views into larger buffers", async () => {
    const a = new Float32Array([1, 2, 3]);
    const shared = new Float32Array([9, 9, 9, 4, 5, 6]);
    const b = shared.subarray(3); // a view: transferring its buffer would detach `shared`
    const out = await runner.run({
      a: { type: "float32", dims: [1, 3], data: a },
      b: { type: "float32", dims: [1, 3], data: b },
    });
    assert.deepEqual([...out.y.data], [5, 7, 9]);
    assert.equal(a.byteLength, 0, "a's buffer was transferred to the worker");
    assert.deepEqual([...shared], [9, 9, 9, 4, 5, 6], "the caller's larger buffer is untouched");
    // Reusing a handed-over array is a caller error with an explanation.
    await assert.rejects(
      runner.run({ a: { type: "float32", dims: [1, 3], data: a }, b: f32([1, 3], [0, 0, 0]) }),
      (error: Error) => error instanceof InvalidTensorError && /detached buffer/.test(error.message),
    );
  });

  test("runs queued requests in call order and matches each result to its request", async () => {
    const order: number[] = [];
    const runs = Array.from({ length: 25 }, (_, i) =>
      runner.run({ a: f32([1, 3], [i, i + 1, i + 2]), b: f32([1, 3], [0, 0, -1]) }).then((out) => {
        order.push(i);
        return out;
      }),
    );
    const results = await Promise.all(runs);
    assert.deepEqual(order, [...Array(25).keys()]);
    results.forEach((out, i) => {
      assert.deepEqual([...out.y.data], [i, i + 1, i + 1]);
    });
  });

  test("an onnxruntime error rejects that run with onnxruntime's message; later runs still work", async () => {
    await assert.rejects(runner.run({ a: f32([1, 2], [1, 2]), b: f32([1, 2], [1, 2]) }), (error: Error) => {
      assert.ok(error instanceof ModelRunError);
      assert.match(error.message, /Got invalid dimensions for input: a/);
      return true;
    });
    await assert.rejects(runner.run({ a: f32([1, 3], [1, 2, 3]) }), /input 'b' is missing in 'feeds'/);
    const out = await runner.run({ a: f32([1, 3], [1, 2, 3]), b: f32([1, 3], [0, 0, 0]) });
    assert.deepEqual([...out.y.data], [1, 2, 3]);
  });

  test("rejects malformed feeds before they reach the worker", async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [
        { type: "float32", dims: [3], data: new Float64Array(3) },
        /data is a Float64Array; pass a Float32Array/,
      ],
      [
        { type: "float32", dims: [2, 2], data: new Float32Array(3) },
        /dims \[2,2\] \(4 elements\) but 3 values/,
      ],
      [{ type: "float16", dims: [1], data: new Uint16Array(1) }, /type float16; use one of float32, uint8/],
      [{ type: "float32", dims: [-1], data: new Float32Array(0) }, /non-negative integers/],
    ];
    for (const [tensor, message] of bad) {
      await assert.rejects(
        runner.run({ a: tensor as TensorLike, b: f32([1, 3], [0, 0, 0]) }),
        (error: Error) => error instanceof InvalidTensorError && message.test(error.message),
      );
    }
  });
});

describe("onnx runner: types, model sources, errors and close()", () => {
  test("round-trips uint8, int32 and int64 tensors", async () => {
    const runner = await createOnnxRunner(identityModel(), { executionProvider: "cpu" });
    try {
      const out = await runner.run({
        uint8: { type: "uint8", dims: [3], data: new Uint8Array([0, 128, 255]) },
        int32: { type: "int32", dims: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
        int64: { type: "int64", dims: [2], data: new BigInt64Array([-(2n ** 40n), 2n ** 62n]) },
      });
      assert.deepEqual(out.uint8_out, { type: "uint8", dims: [3], data: new Uint8Array([0, 128, 255]) });
      assert.deepEqual(out.int32_out, { type: "int32", dims: [2], data: new Int32Array([-7, 2 ** 31 - 1]) });
      assert.deepEqual(out.int64_out, {
        type: "int64",
        dims: [2],
        data: new BigInt64Array([-(2n ** 40n), 2n ** 62n]),
      });
    } finally {
      await runner.close();
    }
  });

  test("an output type the runner does not return is an error naming the output", async () => {
    const runner = await createOnnxRunner(boolOutputModel(), { executionProvider: "cpu" });
    try {
      await assert.rejects(
        runner.run({ a: f32([2], [1, -1]) }),
        /output "y" has element type bool; .* add a Cast to the model/,
      );
    } finally {
      await runner.close();
    }
  });

  test("loads a model from a file path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vdet-runner-"));
    try {
      const path = join(dir, "add-relu.onnx");
      writeFileSync(path, addReluModel());
      const runner = await createOnnxRunner(path, {
        executionProvider: "cpu",
        graphOptimization: "disabled",
      });
      const out = await runner.run({ a: f32([1, 3], [-1, 0, 1]), b: f32([1, 3], [0, 0, 0]) });
      assert.deepEqual([...out.y.data], [0, 0, 1]);
      await runner.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing file or corrupt model rejects with onnxruntime's reason and leaves no worker", async () => {
    const before = workerCount();
    await assert.rejects(
      createOnnxRunner("/nonexistent/model.onnx", { executionProvider: "cpu" }),
      (error: Error) =>
        error instanceof SessionLoadError && /\/nonexistent\/model\.onnx.*doesn't exist/.test(error.message),
    );
    await assert.rejects(
      createOnnxRunner(new Uint8Array([1, 2, 3, 4]), { executionProvider: "cpu" }),
      (error: Error) => error instanceof SessionLoadError && /protobuf parsing failed/.test(error.message),
    );
    assert.equal(workerCount(), before);
  });

  test("bad options fail before a worker starts", async () => {
    await assert.rejects(
      createOnnxRunner(addReluModel(), { executionProvider: "gpu" }),
      /invalid execution provider "gpu"/,
    );
    await assert.rejects(
      createOnnxRunner(addReluModel(), { executionProvider: "cpu", intraOpThreads: 0 }),
      /intraOpThreads must be an integer/,
    );
  });

  test("close() lets queued runs finish, then rejects new runs and ends the worker", async () => {
    const before = workerCount();
    const runner = await createOnnxRunner(addReluModel(), { executionProvider: "cpu" });
    assert.equal(workerCount(), before + 1);
    const queued = [1, 2, 3].map((i) => runner.run({ a: f32([1, 3], [i, i, i]), b: f32([1, 3], [0, 0, 0]) }));
    const closed = runner.close();
    assert.equal(runner.close(), closed, "close() is idempotent");
    await assert.rejects(
      runner.run({ a: f32([1, 3], [1, 1, 1]), b: f32([1, 3], [0, 0, 0]) }),
      (error: Error) => error instanceof RunnerClosedError && /close\(\) was called/.test(error.message),
    );
    const results = await Promise.all(queued);
    assert.deepEqual(
      results.map((r) => r.y.data[0]),
      [1, 2, 3],
    );
    await closed;
    assert.equal(workerCount(), before, "the worker thread has ended");
  });

  test("several runners and a session on the calling thread work side by side", async () => {
    const runners = await Promise.all(
      [0, 1, 2].map(() => createOnnxRunner(addReluModel(), { executionProvider: "cpu", intraOpThreads: 1 })),
    );
    const local = await InferenceSession.create(addReluModel());
    try {
      const runs = runners.flatMap((runner, r) =>
        Array.from({ length: 10 }, (_, i) =>
          runner
            .run({ a: f32([1, 3], [r, i, -1]), b: f32([1, 3], [0, 0, 0]) })
            .then((out) => [...out.y.data]),
        ),
      );
      const ones = new Tensor("float32", new Float32Array([1, 1, 1]), [1, 3]);
      const localOut = await local.run({ a: ones, b: ones });
      const results = await Promise.all(runs);
      assert.deepEqual([...(localOut.y.data as Float32Array)], [2, 2, 2]);
      results.forEach((values, k) => {
        assert.deepEqual(values, [Math.floor(k / 10), k % 10, 0]);
      });
    } finally {
      await Promise.all(runners.map((r) => r.close()));
      await local.release();
    }
  });
});
