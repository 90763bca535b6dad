import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createSimulatedRunner } from "./simulated-runner.ts";

const frames = (n: number, size: number, paint?: (x: number, y: number) => boolean) => {
  const data = new Uint8Array(n * size * size * 3).fill(30);
  if (paint) {
    for (let b = 0; b < n; b++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++)
          if (paint(x, y))
            data.fill(250, ((b * size + y) * size + x) * 3, ((b * size + y) * size + x + 1) * 3);
  }
  return { type: "uint8" as const, dims: [n, size, size, 3], data };
};

describe("simulated runner", () => {
  test("takes the latency model's time per batch size and does not block the event loop", async (t) => {
    // On a virtual clock (setTimeout, setInterval and Date advance 1 ms at a time, once all that is due has run),
    // so the count is exact on a loaded machine too: a run that blocked the event loop would never let the
    // interval fire, nor the clock advance.
    t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    const runner = createSimulatedRunner({ latencyMs: (b) => 40 + 10 * b, now: () => Date.now() });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    let took: number | undefined;
    const started = Date.now();
    const run = runner.run({ frames: frames(4, 64) }).then(() => {
      took = Date.now() - started;
    });
    while (took === undefined && Date.now() < 1000) {
      await new Promise((r) => setImmediate(r));
      if (took === undefined) t.mock.timers.tick(1);
    }
    await run;
    clearInterval(timer);
    assert.equal(took, 80, "a batch of 4 takes 40 + 10 × 4 ms");
    assert.ok(ticks >= 15, `the 5 ms timer fired ${ticks} times during the 80 ms run`);
    await runner.close();
  });

  test("sleeps in real time too: a run takes at least the latency model's time, and timers fire meanwhile", async () => {
    const runner = createSimulatedRunner({ latencyMs: (b) => 40 + 10 * b });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    await runner.run({ frames: frames(4, 64) });
    const took = performance.now() - started;
    clearInterval(timer);
    // Lower bounds only: a loaded machine makes timers late, never early (beyond Node's 1 ms timer granularity:
    // the runner sleeps the fraction of a ms left after its own work, which Node rounds down). The interval (due first) fires at least
    // once before the run's timer; a runner that blocked the event loop until done would let it fire 0 times.
    assert.ok(took >= 78, `batch of 4 took ${took} ms, expected ≈ 80 or more`);
    assert.ok(ticks >= 1, `timer fired ${ticks} times during the run`);
    await runner.close();
  });

  test("runs one batch at a time in call order, like one accelerator", async () => {
    const runner = createSimulatedRunner({ latencyMs: () => 30 });
    const order: number[] = [];
    const started = performance.now();
    await Promise.all([1, 2, 3].map((i) => runner.run({ frames: frames(1, 32) }).then(() => order.push(i))));
    assert.deepEqual(order, [1, 2, 3]);
    assert.ok(performance.now() - started >= 85, "three 30 ms runs in sequence take ≈ 90 ms");
    await runner.close();
    await assert.rejects(runner.run({ frames: frames(1, 32) }), /closed/);
  });

  test("deploy-shaped outputs; a bright square gives a box around it", async () => {
    const runner = createSimulatedRunner({ latencyMs: () => 0, candidates: 10 });
    const out = await runner.run({ frames: frames(2, 128, (x, y) => x >= 8 && x < 40 && y >= 64 && y < 96) });
    assert.deepEqual(out.boxes.dims, [2, 10, 4]);
    assert.deepEqual(out.scores.dims, [2, 10]);
    assert.deepEqual(out.classes.dims, [2, 10]);
    const boxes = out.boxes.data as Float32Array;
    assert.deepEqual([...boxes.subarray(0, 4)], [8, 64, 40, 96]);
    assert.deepEqual([...boxes.subarray(40, 44)], [8, 64, 40, 96]);
    assert.ok((out.scores.data as Float32Array)[0] > 0.5);
    assert.equal((out.scores.data as Float32Array)[1], 0);
    await runner.close();
  });

  test("bad inputs and latency models are named", async () => {
    const runner = createSimulatedRunner({ latencyMs: (b) => (b > 2 ? Number.NaN : 1) });
    await assert.rejects(runner.run({}), /missing input "frames"/);
    await assert.rejects(
      runner.run({ frames: { type: "float32", dims: [1, 3, 8, 8], data: new Float32Array(192) } }),
      /must be uint8 N×H×W×3/,
    );
    await assert.rejects(runner.run({ frames: frames(3, 16) }), /no latency for a batch of 3/);
    await runner.run({ frames: frames(1, 16) });
    await runner.close();
  });
});
