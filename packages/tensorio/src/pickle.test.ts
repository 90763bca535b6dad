import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { op, pickle } from "../testing/pickles.ts";
import { PickleInstance, PickleTuple, unpickle } from "./pickle.ts";
import { findTorchGlobal } from "./torch-pickle.ts";

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
const load = (bytes: Uint8Array): unknown => unpickle(bytes, 0, { findGlobal: findTorchGlobal }).value;

// Made by CPython 3.11: pickle.dumps(DATA, protocol=p) with DATA = {"a": [1, -2, 3.5, "é", (True, None, False)],
// "big": 2**70, "neg": -(2**40), "n255": 255, "n65535": 65535, "m1": -1, "b": b"\x00\xff", "t1": (1,),
// "t2": (1, 2), "t3": (1, 2, 3)}. Protocol 2 writes bytes as _codecs.encode(...); 4 and 5 use FRAME/MEMOIZE.
const PYTHON_PICKLES: Record<string, string> = {
  protocol2:
    "80027d71002858010000006171015d7102284b014afeffffff47400c0000000000005802000000c3a97103884e8987710465580300000062" +
    "696771058a0900000000000000004058030000006e656771068a060000000000ff58040000006e32353571074bff58060000006e36353533" +
    "3571084dffff58020000006d3171094affffffff580100000062710a635f636f646563730a656e636f64650a710b580300000000c3bf710c" +
    "58060000006c6174696e31710d86710e52710f5802000000743171104b018571115802000000743271124b014b028671135802000000743371" +
    "144b014b024b03877115752e",
  protocol4:
    "8004958f000000000000007d94288c0161945d94284b014afeffffff47400c0000000000008c02c3a994884e898794658c03626967948a09" +
    "0000000000000000408c036e6567948a060000000000ff8c046e323535944bff8c066e3635353335944dffff8c026d31944affffffff8c01" +
    "6294430200ff948c027431944b0185948c027432944b014b0286948c027433944b014b024b038794752e",
  protocol5:
    "8005958f000000000000007d94288c0161945d94284b014afeffffff47400c0000000000008c02c3a994884e898794658c03626967948a09" +
    "0000000000000000408c036e6567948a060000000000ff8c046e323535944bff8c066e3635353335944dffff8c026d31944affffffff8c01" +
    "6294430200ff948c027431944b0185948c027432944b014b0286948c027433944b014b024b038794752e",
};

describe("restricted unpickler: the data subset", () => {
  for (const [name, text] of Object.entries(PYTHON_PICKLES)) {
    test(`CPython ${name} pickle of dicts, lists, tuples, ints, floats, strings, bytes`, () => {
      const value = load(hex(text)) as Map<string, unknown>;
      assert.ok(value instanceof Map);
      assert.deepEqual([...value.keys()], ["a", "big", "neg", "n255", "n65535", "m1", "b", "t1", "t2", "t3"]);
      assert.deepEqual(value.get("a"), [1, -2, 3.5, "é", new PickleTuple([true, null, false])]);
      assert.equal(value.get("big"), 2n ** 70n);
      assert.equal(value.get("neg"), -(2 ** 40));
      assert.equal(value.get("n255"), 255);
      assert.equal(value.get("n65535"), 65535);
      assert.equal(value.get("m1"), -1);
      assert.deepEqual(value.get("b"), Uint8Array.from([0, 255]));
      assert.deepEqual(value.get("t1"), new PickleTuple([1]));
      assert.deepEqual(value.get("t2"), new PickleTuple([1, 2]));
      assert.deepEqual(value.get("t3"), new PickleTuple([1, 2, 3]));
    });
  }

  test("memo references keep object identity ([x, x])", () => {
    const value = load(hex("80025d7100285d71014b01616801652e")) as unknown[][];
    assert.deepEqual(value, [[1], [1]]);
    assert.equal(value[0], value[1]);
  });

  test("argparse.Namespace in a training checkpoint is kept as inert data (NEWOBJ + BUILD)", () => {
    const value = load(
      hex(
        "80027d710058040000006172677371016361726770617273650a4e616d6573706163650a7102298171037d71042858020000006c7271" +
          "05473fb999999999999a58050000006d6f64656c7106581200000074665f656666696369656e746465745f643071077562732e",
      ),
    ) as Map<string, PickleInstance>;
    const args = value.get("args")!;
    assert.ok(args instanceof PickleInstance);
    assert.equal(args.className, "argparse.Namespace");
    assert.deepEqual(
      args.state,
      new Map<string, unknown>([
        ["lr", 0.1],
        ["model", "tf_efficientdet_d0"],
      ]),
    );
  });

  test("an OrderedDict with torch's _metadata attribute (BUILD on a dict) keeps its items", () => {
    const value = load(
      hex(
        "800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01737d7103580900000" +
          "05f6d657461646174617104680029527105580000000071067d7107580700000076657273696f6e71084b01737373622e",
      ),
    );
    assert.deepEqual(value, new Map([["a", 1]]));
  });

  test("returns the offset after STOP so that pickles can follow each other", () => {
    const first = pickle(op.int(7));
    const both = new Uint8Array([...first, ...pickle(op.str("next"))]);
    const a = unpickle(both, 0, { findGlobal: findTorchGlobal });
    assert.deepEqual([a.value, a.end], [7, first.length]);
    assert.equal(unpickle(both, a.end, { findGlobal: findTorchGlobal }).value, "next");
  });
});

describe("restricted unpickler: refusals", () => {
  test("GLOBAL os system + REDUCE is refused, naming the global, before anything is called", () => {
    const evil = pickle(
      op.global("os", "system"),
      op.mark(),
      op.str("touch /tmp/pwned"),
      op.tuple(),
      op.reduce(),
    );
    assert.throws(() => load(evil), /refusing pickle global os\.system.*nothing was executed/s);
  });

  test("CPython protocol 4 pickle of os.system (STACK_GLOBAL posix.system) is refused", () => {
    const evil = hex(
      "80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e",
    );
    assert.throws(() => load(evil), /refusing pickle global posix\.system/);
  });

  test("builtins.eval via STACK_GLOBAL and torch.* names outside the allow-list are refused", () => {
    assert.throws(() => load(pickle(op.str("builtins"), op.str("eval"), op.stackGlobal())), /builtins\.eval/);
    assert.throws(() => load(pickle(op.global("torch", "load"))), /refusing pickle global torch\.load/);
    // Object.prototype members must not pass as allowed names.
    assert.throws(
      () => load(pickle(op.global("torch", "constructor"))),
      /refusing pickle global torch\.constructor/,
    );
    assert.throws(() => load(pickle(op.global("__proto__", "x"))), /refusing pickle global __proto__\.x/);
  });

  test("allowed globals cannot be misused: storage classes are not callable, OrderedDict takes no arguments", () => {
    const callStorage = pickle(op.global("torch", "FloatStorage"), op.emptyTuple(), op.reduce());
    assert.throws(() => load(callStorage), /torch\.FloatStorage may not be called/);
    const orderedWithArgs = pickle(
      op.global("collections", "OrderedDict"),
      op.mark(),
      op.emptyList(),
      op.tuple(),
      op.reduce(),
    );
    assert.throws(() => load(orderedWithArgs), /OrderedDict is only accepted without arguments/);
    assert.throws(() => load(pickle(op.str("x"), op.emptyTuple(), op.reduce())), /REDUCE on a string/);
    assert.throws(() => load(pickle(op.emptyList(), op.emptyDict(), op.build())), /BUILD on a list of 0/);
  });

  test("opcodes outside the subset (INST, OBJ, EXT1) are refused by name", () => {
    assert.throws(() => load(pickle([0x69, ...Buffer.from("os\nsystem\n")])), /opcode INST is not part/);
    assert.throws(() => load(pickle(op.mark(), [0x6f])), /opcode OBJ is not part/);
    assert.throws(() => load(pickle([0x82, 1])), /opcode EXT1 is not part/);
    assert.throws(() => load(Uint8Array.from([0x80, 2, 0xff])), /unknown opcode 0xff/);
  });

  test("persistent ids are refused where no loader is given", () => {
    assert.throws(() => load(pickle(op.str("x"), op.binpersid())), /persistent ids are not expected/);
  });

  test("truncated and malformed pickles give errors, not garbage", () => {
    const full = hex(PYTHON_PICKLES.protocol2);
    for (const cut of [1, 10, 40, full.length - 1]) {
      assert.throws(() => load(full.subarray(0, cut)), /truncated|end of data/, `cut at ${cut}`);
    }
    assert.throws(() => load(Uint8Array.from([0x80, 2, 0x2e])), /STOP with a malformed stack/);
    assert.throws(() => load(Uint8Array.from([0x80, 2, 0x68, 5, 0x2e])), /memo entry 5 is not defined/);
    assert.throws(() => load(Uint8Array.from([0x80, 2, 0x74, 0x2e])), /no MARK/);
    assert.throws(() => load(Uint8Array.from([0x80, 2, 0x85, 0x2e])), /stack underflow/);
    assert.throws(() => load(Uint8Array.from([0x80, 9, 0x4e, 0x2e])), /protocol 9 is newer than 5/);
    assert.throws(
      () => load(pickle(op.emptyDict(), op.mark(), op.emptyList(), op.int(1), op.setitems())),
      /dict key/,
    );
  });
});
