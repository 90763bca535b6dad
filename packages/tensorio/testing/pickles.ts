// Test helpers only: builds pickles opcode by opcode and wraps them into PyTorch checkpoint files (zip via fflate,
// legacy by concatenation), so tests can make the cases the real fixtures do not cover (views, wrappers, attacks).

import { zipSync } from "fflate";

export type Op = number[];

const utf8 = (text: string): number[] => [...new TextEncoder().encode(text)];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

export const op = {
  proto: (version = 2): Op => [0x80, version],
  stop: (): Op => [0x2e],
  mark: (): Op => [0x28],
  none: (): Op => [0x4e],
  false: (): Op => [0x89],
  emptyTuple: (): Op => [0x29],
  emptyDict: (): Op => [0x7d],
  emptyList: (): Op => [0x5d],
  tuple: (): Op => [0x74],
  setitems: (): Op => [0x75],
  appends: (): Op => [0x65],
  reduce: (): Op => [0x52],
  build: (): Op => [0x62],
  binpersid: (): Op => [0x51],
  int: (n: number): Op => [0x4a, ...u32(n)],
  str: (text: string): Op => {
    const bytes = utf8(text);
    return [0x58, ...u32(bytes.length), ...bytes];
  },
  global: (module: string, name: string): Op => [0x63, ...utf8(module), 0x0a, ...utf8(name), 0x0a],
  stackGlobal: (): Op => [0x93],
};

export function pickle(...ops: Op[]): Uint8Array {
  return Uint8Array.from([...op.proto(), ...ops.flat(), ...op.stop()]);
}

const ints = (values: readonly number[]): Op => [
  ...op.mark(),
  ...values.flatMap((v) => op.int(v)),
  ...op.tuple(),
];

export interface TensorSpec {
  storageType?: string;
  key: string;
  storageNumel: number;
  offset?: number;
  shape: number[];
  stride?: number[];
  /** Legacy view metadata (view key, offset, size). */
  view?: [string, number, number];
  /** Emit a 6-field (legacy) persistent id even without a view. */
  legacy?: boolean;
}

function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
  return stride;
}

/** `torch._utils._rebuild_tensor_v2(<persistent storage>, offset, size, stride, False, OrderedDict())`. */
export function tensorOps(spec: TensorSpec): Op {
  const viewOps = spec.view
    ? [...op.mark(), ...op.str(spec.view[0]), ...op.int(spec.view[1]), ...op.int(spec.view[2]), ...op.tuple()]
    : op.none();
  return [
    ...op.global("torch._utils", "_rebuild_tensor_v2"),
    ...op.mark(),
    ...op.mark(),
    ...op.str("storage"),
    ...op.global("torch", spec.storageType ?? "FloatStorage"),
    ...op.str(spec.key),
    ...op.str("cpu"),
    ...op.int(spec.storageNumel),
    ...(spec.legacy || spec.view ? viewOps : []),
    ...op.tuple(),
    ...op.binpersid(),
    ...op.int(spec.offset ?? 0),
    ...ints(spec.shape),
    ...ints(spec.stride ?? contiguousStride(spec.shape)),
    ...rebuildEnd(),
  ];
}

/** The last arguments of every `_rebuild_*` call, `False, OrderedDict()`, then the call itself. */
function rebuildEnd(): Op {
  return [
    ...op.false(),
    ...op.global("collections", "OrderedDict"),
    ...op.emptyTuple(),
    ...op.reduce(),
    ...op.tuple(),
    ...op.reduce(),
  ];
}

/** `torch._utils._rebuild_parameter(<tensor>, False, OrderedDict())`: an nn.Parameter around a tensor. */
export function parameterOps(tensor: Op): Op {
  return [...op.global("torch._utils", "_rebuild_parameter"), ...op.mark(), ...tensor, ...rebuildEnd()];
}

/** An OrderedDict of name -> value ops. */
export function orderedDictOps(entries: [string, Op][]): Op {
  return [
    ...op.global("collections", "OrderedDict"),
    ...op.emptyTuple(),
    ...op.reduce(),
    ...op.mark(),
    ...entries.flatMap(([name, value]) => [...op.str(name), ...value]),
    ...op.setitems(),
  ];
}

/** A plain dict of name -> value ops. */
export function dictOps(entries: [string, Op][]): Op {
  return [
    ...op.emptyDict(),
    ...op.mark(),
    ...entries.flatMap(([name, value]) => [...op.str(name), ...value]),
    ...op.setitems(),
  ];
}

/** A zip-format checkpoint: `<folder>/data.pkl`, `<folder>/data/<key>`, `<folder>/version`. */
export function torchZip(
  dataPkl: Uint8Array,
  storages: Record<string, Uint8Array>,
  options: { folder?: string; deflate?: boolean; extra?: Record<string, Uint8Array> } = {},
): Uint8Array {
  const folder = options.folder ?? "archive";
  const files: Record<string, Uint8Array> = { [`${folder}/data.pkl`]: dataPkl };
  for (const [key, bytes] of Object.entries(storages)) files[`${folder}/data/${key}`] = bytes;
  files[`${folder}/version`] = new TextEncoder().encode("3\n");
  Object.assign(files, options.extra ?? {});
  return zipSync(files, { level: options.deflate ? 6 : 0 });
}

/** A legacy-format checkpoint: magic, protocol 1001, sys info, the object pickle, keys, then the storages. */
export function torchLegacy(objectPickle: Uint8Array, storages: [string, number, Uint8Array][]): Uint8Array {
  const magic = Uint8Array.from([
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
  ]);
  const protocol = pickle([0x4d, 0xe9, 0x03]);
  const sysInfo = pickle(dictOps([["little_endian", [0x88]]]));
  const keys = pickle([
    ...op.emptyList(),
    ...op.mark(),
    ...storages.flatMap(([key]) => op.str(key)),
    ...op.appends(),
  ]);
  const parts: Uint8Array[] = [magic, protocol, sysInfo, objectPickle, keys];
  for (const [, count, bytes] of storages) {
    const header = new Uint8Array(8);
    new DataView(header.buffer).setBigUint64(0, BigInt(count), true);
    parts.push(header, bytes);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
