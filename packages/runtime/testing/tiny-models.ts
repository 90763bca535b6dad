// Small ONNX models built in code for the runtime tests (opset 17, IR version 8).

import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const ELEMENT_TYPE = { float32: 1, uint8: 2, int32: 6, int64: 7 } as const;

function value(name: string, type: keyof typeof ELEMENT_TYPE, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function encode(graph: Record<string, unknown>): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "vdet-runtime-tests",
    graph: onnx.GraphProto.create(graph),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** y = Relu(a + b) on float32 [n, 3]. */
export function addReluModel(): Uint8Array {
  return encode({
    name: "add_relu",
    node: [
      { opType: "Add", input: ["a", "b"], output: ["sum"] },
      { opType: "Relu", input: ["sum"], output: ["y"] },
    ],
    input: [value("a", "float32", ["n", 3]), value("b", "float32", ["n", 3])],
    output: [value("y", "float32", ["n", 3])],
  });
}

/** Each input passed through as `<name>_out`: uint8, int32 and int64 tensors of any length. */
export function identityModel(): Uint8Array {
  const types = ["uint8", "int32", "int64"] as const;
  return encode({
    name: "identity",
    node: types.map((t) => ({ opType: "Identity", input: [t], output: [`${t}_out`] })),
    input: types.map((t) => value(t, t, ["n"])),
    output: types.map((t) => value(`${t}_out`, t, ["n"])),
  });
}

/** A bool output, which the runner does not return: y = a > 0. */
export function boolOutputModel(): Uint8Array {
  return encode({
    name: "bool_out",
    node: [
      { opType: "Constant", output: ["zero"], attribute: [{ name: "value_float", f: 0, type: 1 }] },
      { opType: "Greater", input: ["a", "zero"], output: ["y"] },
    ],
    input: [value("a", "float32", ["n"])],
    output: [{ name: "y", type: { tensorType: { elemType: 9, shape: { dim: [{ dimParam: "n" }] } } } }],
  });
}
