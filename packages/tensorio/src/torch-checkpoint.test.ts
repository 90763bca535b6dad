import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { unzipSync, zipSync } from "fflate";
import { largeFixture, loadD0StateDict, projectFixture } from "../../../test/support/fixtures.ts";
import {
  dictOps,
  f32Bytes,
  type Op,
  op,
  orderedDictOps,
  parameterOps,
  pickle,
  type TensorSpec,
  tensorOps,
  torchLegacy,
  torchZip,
} from "../testing/pickles.ts";
import { float16Bits, toFloat32 } from "./convert.ts";
import { readSafetensors } from "./safetensors.ts";
import { type StateDict, tensorBytes } from "./tensor.ts";
import { readTorchCheckpoint } from "./torch-checkpoint.ts";

const values = (dict: StateDict, name: string): number[] => Array.from(toFloat32(dict.get(name)!));

/** The reference's D0 state_dict order, from the committed effdet-configs.json. */
function d0ReferenceOrder(): string[] {
  const configs = JSON.parse(readFileSync(projectFixture("effdet/effdet-configs.json"), "utf8"));
  return (configs.configs.tf_efficientdet_d0.state_dict as [string, number[], string][]).map(
    ([name]) => name,
  );
}

describe("PyTorch checkpoints: the D0 fixtures against d0.weights.safetensors", () => {
  for (const file of ["d0.weights.pth", "d0.weights.legacy.pth"]) {
    test(`${file}: same names (reference order), shapes, dtypes and bit-identical values`, (t) => {
      const path = largeFixture(t, `effdet/${file}`);
      const reference = loadD0StateDict(t);
      if (!path || !reference) return;
      const dict = readTorchCheckpoint(readFileSync(path));
      assert.deepEqual([...dict.keys()], d0ReferenceOrder());
      assert.deepEqual([...dict.keys()].sort(), [...reference.keys()].sort());
      for (const [name, expected] of reference) {
        const actual = dict.get(name)!;
        assert.equal(actual.dtype, expected.dtype, name);
        assert.deepEqual(actual.shape, expected.shape, name);
        assert.ok(Buffer.from(tensorBytes(actual)).equals(tensorBytes(expected)), `${name}: values differ`);
      }
    });
  }

  test("d0.weights.fp16-wrapped.pth: {model: float16 state dict, epoch}, values = float16 rounding of f32", (t) => {
    const path = largeFixture(t, "effdet/d0.weights.fp16-wrapped.pth");
    const reference = loadD0StateDict(t);
    if (!path || !reference) return;
    const dict = readTorchCheckpoint(readFileSync(path));
    assert.deepEqual([...dict.keys()], d0ReferenceOrder());
    let halfTensors = 0;
    for (const [name, expected] of reference) {
      const actual = dict.get(name)!;
      assert.deepEqual(actual.shape, expected.shape, name);
      if (expected.dtype === "I64") {
        assert.equal(actual.dtype, "I64", name);
        assert.deepEqual(actual.data, expected.data, name);
        continue;
      }
      assert.equal(actual.dtype, "F16", name);
      const f32 = expected.data as Float32Array;
      const f16 = actual.data as Uint16Array;
      for (let i = 0; i < f32.length; i++) {
        if (f16[i] !== float16Bits(f32[i])) assert.fail(`${name}[${i}]: ${f16[i]} is not float16(${f32[i]})`);
      }
      halfTensors++;
    }
    assert.equal(halfTensors, 676);
  });

  test("another top folder name (archive/) and deflated entries read the same", (t) => {
    const path = largeFixture(t, "effdet/d0.weights.pth");
    if (!path) return;
    const original = readFileSync(path);
    const renamed: Record<string, Uint8Array> = {};
    for (const [name, bytes] of Object.entries(unzipSync(original))) {
      renamed[name.replace(/^d0\.weights\//, "archive/")] = bytes;
    }
    const reference = readTorchCheckpoint(original);
    for (const level of [0, 6] as const) {
      const dict = readTorchCheckpoint(zipSync(renamed, { level }));
      assert.deepEqual([...dict.keys()], [...reference.keys()]);
      for (const [name, tensor] of reference) {
        assert.ok(
          Buffer.from(tensorBytes(dict.get(name)!)).equals(tensorBytes(tensor)),
          `${name}, level ${level}`,
        );
      }
    }
  });

  test("truncated and corrupted fixture files give clear errors", (t) => {
    const zipPath = largeFixture(t, "effdet/d0.weights.pth");
    const legacyPath = largeFixture(t, "effdet/d0.weights.legacy.pth");
    if (!zipPath || !legacyPath) return;
    const zip = readFileSync(zipPath);
    const legacy = readFileSync(legacyPath);
    assert.throws(() => readTorchCheckpoint(zip.subarray(0, zip.length >> 1)), /damaged or truncated/);
    assert.throws(() => readTorchCheckpoint(zip.subarray(0, zip.length - 30)), /damaged or truncated/);
    for (const cut of [legacy.length - 1, legacy.length >> 1, 200_000, 50_000, 100]) {
      assert.throws(() => readTorchCheckpoint(legacy.subarray(0, cut)), /truncated/, `legacy cut at ${cut}`);
    }
    const flipped = Uint8Array.from(zip);
    flipped[zip.length >> 1] ^= 0x01; // inside some storage
    assert.throws(() => readTorchCheckpoint(flipped), /CRC-32 mismatch in "d0\.weights\/data\/\d+"/);
  });
});

/** Storage "0": the floats 0..11. */
const storage12 = f32Bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
const views: [string, TensorSpec][] = [
  ["transposed", { key: "0", storageNumel: 12, offset: 2, shape: [3, 2], stride: [1, 3] }],
  ["window", { key: "0", storageNumel: 12, offset: 4, shape: [2, 2] }],
  ["expanded", { key: "0", storageNumel: 12, shape: [2, 3], stride: [1, 0] }],
  ["scalar", { key: "0", storageNumel: 12, offset: 9, shape: [] }],
  ["empty", { key: "0", storageNumel: 12, shape: [0, 3] }],
];
const expectedViews: Record<string, number[]> = {
  transposed: [2, 5, 3, 6, 4, 7],
  window: [4, 5, 6, 7],
  expanded: [0, 0, 0, 1, 1, 1],
  scalar: [9],
  empty: [],
};

function viewsPickle(legacy = false): Uint8Array {
  return pickle(orderedDictOps(views.map(([name, spec]) => [name, tensorOps({ ...spec, legacy })])));
}

describe("PyTorch checkpoints: hand-built cases", () => {
  test("views with storage offsets and strides become contiguous C-order data (zip, deflated zip, legacy)", () => {
    const files = {
      stored: torchZip(viewsPickle(), { "0": storage12 }, { folder: "my-export" }),
      deflated: torchZip(viewsPickle(), { "0": storage12 }, { deflate: true }),
      legacy: torchLegacy(viewsPickle(true), [["0", 12, storage12]]),
    };
    for (const [kind, bytes] of Object.entries(files)) {
      const dict = readTorchCheckpoint(bytes);
      assert.deepEqual([...dict.keys()], Object.keys(expectedViews), kind);
      for (const [name, expected] of Object.entries(expectedViews)) {
        assert.deepEqual(values(dict, name), expected, `${kind} ${name}`);
      }
      assert.deepEqual(dict.get("transposed")!.shape, [3, 2]);
      assert.deepEqual(dict.get("scalar")!.shape, []);
    }
  });

  test("legacy view storages (view key, offset, size) address a window of their root storage", () => {
    const spec: TensorSpec = { key: "7", storageNumel: 12, view: ["8", 4, 6], offset: 1, shape: [2] };
    const bytes = torchLegacy(pickle(orderedDictOps([["w", tensorOps(spec)]])), [["7", 12, storage12]]);
    assert.deepEqual(values(readTorchCheckpoint(bytes), "w"), [5, 6]);
    const tooFar = torchLegacy(pickle(orderedDictOps([["w", tensorOps({ ...spec, offset: 5 })]])), [
      ["7", 12, storage12],
    ]);
    assert.throws(
      () => readTorchCheckpoint(tooFar),
      /tensor "w".*reads past the end of its storage of 6 elements/,
    );
  });

  test("storage types map to dtypes; parameters unwrap to their tensor", () => {
    const parameter = parameterOps(
      tensorOps({ storageType: "HalfStorage", key: "h", storageNumel: 2, shape: [2] }),
    );
    const data = pickle(
      orderedDictOps([
        ["p", parameter],
        ["n", tensorOps({ storageType: "LongStorage", key: "l", storageNumel: 1, shape: [] })],
        ["m", tensorOps({ storageType: "BoolStorage", key: "b", storageNumel: 2, shape: [2] })],
        ["d", tensorOps({ storageType: "DoubleStorage", key: "d", storageNumel: 1, shape: [1] })],
        ["bf", tensorOps({ storageType: "BFloat16Storage", key: "bf", storageNumel: 1, shape: [1] })],
      ]),
    );
    const dict = readTorchCheckpoint(
      torchZip(data, {
        h: new Uint8Array(Uint16Array.of(0x3c00, 0xc000).buffer),
        l: new Uint8Array(BigInt64Array.of(123n).buffer),
        b: Uint8Array.of(1, 0),
        d: new Uint8Array(Float64Array.of(0.5).buffer),
        bf: new Uint8Array(Uint16Array.of(0x4049).buffer),
      }),
    );
    assert.deepEqual(
      [...dict.values()].map((t) => t.dtype),
      ["F16", "I64", "BOOL", "F64", "BF16"],
    );
    assert.deepEqual(values(dict, "p"), [1, -2]);
    assert.deepEqual(dict.get("n")!.data, BigInt64Array.of(123n));
    assert.deepEqual(values(dict, "m"), [1, 0]);
    assert.deepEqual(values(dict, "bf"), [3.140625]);
  });

  const tensorA = tensorOps({ key: "0", storageNumel: 12, shape: [1] });
  const tensorB = tensorOps({ key: "0", storageNumel: 12, offset: 1, shape: [1] });
  const load = (root: Op): StateDict => readTorchCheckpoint(torchZip(pickle(root), { "0": storage12 }));

  test("wrapped checkpoints: model, then state_dict, then state_dict_ema, then model_ema", () => {
    const sd = (value: Op): Op => orderedDictOps([["w", value]]);
    // Each wrapper's keys, and the first element of "w" in the one that must be chosen (A starts at 0, B at 1).
    const wrappers: [[string, Op], [string, Op], number][] = [
      [["model", sd(tensorA)], ["epoch", op.int(300)], 0],
      [["state_dict", sd(tensorA)], ["state_dict_ema", sd(tensorB)], 0],
      [["state_dict_ema", sd(tensorB)], ["model", sd(tensorA)], 0],
      [["state_dict", sd(tensorA)], ["model", sd(tensorB)], 1],
      [["model_ema", sd(tensorB)], ["state_dict_ema", sd(tensorA)], 0],
      [["model_ema", sd(tensorB)], ["optimizer", dictOps([])], 1],
    ];
    for (const [first, second, expected] of wrappers) {
      assert.deepEqual(values(load(dictOps([first, second])), "w"), [expected], `${first[0]}, ${second[0]}`);
    }
    assert.throws(
      () =>
        load(
          dictOps([
            ["epoch", op.int(3)],
            ["optimizer", dictOps([])],
          ]),
        ),
      /no state dict found: the checkpoint has keys epoch, optimizer; expected tensors or one of model, state_dict/,
    );
    assert.throws(
      () => load(dictOps([["model", op.int(3)]])),
      /the checkpoint\["model"\] is a number, not a state/,
    );
    // {"model": <itself>} through the memo: refused, not an endless loop.
    const selfReferencing = [...op.emptyDict(), 0x71, 0, ...op.str("model"), 0x68, 0, 0x73];
    assert.throws(() => load(selfReferencing), /wrappers nested too deep/);
  });

  test("a DataParallel 'module.' prefix is stripped only when every name has it", () => {
    const both = load(
      orderedDictOps([
        ["module.a", tensorA],
        ["module.b", tensorB],
      ]),
    );
    assert.deepEqual([...both.keys()], ["a", "b"]);
    const one = load(
      orderedDictOps([
        ["module.a", tensorA],
        ["b", tensorB],
      ]),
    );
    assert.deepEqual([...one.keys()], ["module.a", "b"]);
  });

  test("errors: non-tensor entries, missing storages, tensors past their storage", () => {
    assert.throws(
      () =>
        load(
          orderedDictOps([
            ["a", tensorA],
            ["note", op.str("x")],
          ]),
        ),
      /state dict the checkpoint holds note = string; only tensors/,
    );
    const missing = torchZip(pickle(orderedDictOps([["a", tensorA]])), {});
    assert.throws(
      () => readTorchCheckpoint(missing),
      /storage 0 is missing from the archive \(archive\/data\/0\)/,
    );
    const short = torchZip(pickle(orderedDictOps([["a", tensorA]])), { "0": storage12.subarray(0, 8) });
    assert.throws(() => readTorchCheckpoint(short), /storage 0 has 8 bytes, its tensors need 48/);
    const past = tensorOps({ key: "0", storageNumel: 12, offset: 10, shape: [2, 2], stride: [1, 1] });
    assert.throws(
      () => load(orderedDictOps([["p", past]])),
      /tensor "p" \(shape \[2, 2\].*reads past the end/,
    );
  });

  test("a malicious data.pkl inside a zip checkpoint is refused, naming the global", () => {
    const evil = pickle(op.global("os", "system"), op.mark(), op.str("echo pwned"), op.tuple(), op.reduce());
    assert.throws(() => readTorchCheckpoint(torchZip(evil, {})), /refusing pickle global os\.system/);
    const nested = pickle(
      dictOps([
        ["model", orderedDictOps([["w", tensorA]])],
        ["hook", op.global("os", "popen")],
      ]),
    );
    assert.throws(
      () => readTorchCheckpoint(torchZip(nested, { "0": storage12 })),
      /refusing pickle global os\.popen/,
    );
    const whole = pickle(op.mark(), op.str("module"), op.str("x"), op.tuple(), op.binpersid());
    assert.throws(() => readTorchCheckpoint(torchZip(whole, {})), /whole pickled model/);
  });

  test("zip archives that are not state-dict checkpoints are named", () => {
    const sd = pickle(orderedDictOps([["w", tensorA]]));
    const script = torchZip(
      sd,
      { "0": storage12 },
      { extra: { "archive/constants.pkl": pickle(op.none()) } },
    );
    assert.throws(() => readTorchCheckpoint(script), /TorchScript archive/);
    const npz = zipSync({ "w.npy": Uint8Array.of(0x93, 0x4e) });
    assert.throws(() => readTorchCheckpoint(npz), /numpy \.npz archive/);
    const big = torchZip(
      sd,
      { "0": storage12 },
      { extra: { "archive/byteorder": new TextEncoder().encode("big") } },
    );
    assert.throws(() => readTorchCheckpoint(big), /big-endian/);
    const little = torchZip(
      sd,
      { "0": storage12 },
      { extra: { "archive/byteorder": new TextEncoder().encode("little") } },
    );
    assert.deepEqual(values(readTorchCheckpoint(little), "w"), [0]);
  });

  test("legacy header checks: magic number, protocol version, storage counts", () => {
    const good = torchLegacy(
      pickle(orderedDictOps([["w", tensorOps({ key: "0", storageNumel: 12, shape: [1], legacy: true })]])),
      [["0", 12, storage12]],
    );
    assert.deepEqual(values(readTorchCheckpoint(good), "w"), [0]);
    const badMagic = Uint8Array.from(good);
    badMagic[5] ^= 1;
    assert.throws(() => readTorchCheckpoint(badMagic), /wrong magic number/);
    const wrongCount = torchLegacy(
      pickle(orderedDictOps([["w", tensorOps({ key: "0", storageNumel: 12, shape: [1], legacy: true })]])),
      [["0", 11, storage12.subarray(0, 44)]],
    );
    assert.throws(() => readTorchCheckpoint(wrongCount), /storage 0 holds 11 elements, the pickle says 12/);
    const unusedKey = torchLegacy(pickle(orderedDictOps([])), [["5", 12, storage12]]);
    assert.throws(() => readTorchCheckpoint(unusedKey), /lists storage 5, which no tensor uses/);
  });

  test("reads the committed D3 small tensors re-packed as a checkpoint (many storages, shared key space)", () => {
    const source = readSafetensors(readFileSync(projectFixture("effdet/d3-256.small-tensors.safetensors")));
    const entries: [string, Op][] = [];
    const storages: Record<string, Uint8Array> = {};
    let key = 0;
    for (const [name, tensor] of source) {
      const storageType = tensor.dtype === "I64" ? "LongStorage" : "FloatStorage";
      entries.push([
        name,
        tensorOps({ storageType, key: String(key), storageNumel: tensor.data.length, shape: tensor.shape }),
      ]);
      storages[String(key++)] = tensorBytes(tensor);
    }
    const dict = readTorchCheckpoint(torchZip(pickle(orderedDictOps(entries)), storages));
    assert.deepEqual([...dict.keys()], [...source.keys()]);
    for (const [name, tensor] of source) assert.deepEqual(dict.get(name), tensor, name);
  });
});
