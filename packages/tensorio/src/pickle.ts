// A restricted unpickler: it interprets the data-building part of Python's pickle protocol (versions 2-5) and
// nothing else. Globals are resolved only through the caller's allow-list, and "calling" one runs the TypeScript
// stand-in the allow-list provides: no Python object is ever constructed and no code named by the file runs.

import { decodeLatin1 } from "./latin1.ts";
import { TensorFileError } from "./tensor.ts";

/** A Python tuple (lists are plain arrays, dicts are `Map`s, None is `null`, bytes are `Uint8Array`). */
export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** What an allowed global stands for. Anything the unpickler is asked to call must be one of these. */
export interface PickleGlobal {
  /** `module.name`, for error messages. */
  readonly qualifiedName: string;
  /** REDUCE (`f(*args)`) and NEWOBJ (`cls.__new__(cls, *args)`); absent: the global may not be called. */
  call?(args: readonly unknown[]): unknown;
}

/** An instance of an allowed plain-data class (e.g. `argparse.Namespace`): its BUILD state, kept as data. */
export class PickleInstance {
  state: unknown = null;
  constructor(readonly className: string) {}
}

export interface UnpickleOptions {
  /** Resolves GLOBAL / STACK_GLOBAL; throws (a TensorFileError naming the global) to refuse it. */
  findGlobal(module: string, name: string): PickleGlobal;
  /** Resolves BINPERSID ids; absent: persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

const OPCODE_NAMES: Record<number, string> = {
  40: "MARK",
  46: "STOP",
  48: "POP",
  49: "POP_MARK",
  50: "DUP",
  66: "BINBYTES",
  67: "SHORT_BINBYTES",
  70: "FLOAT",
  71: "BINFLOAT",
  73: "INT",
  74: "BININT",
  75: "BININT1",
  76: "LONG",
  77: "BININT2",
  78: "NONE",
  80: "PERSID",
  81: "BINPERSID",
  82: "REDUCE",
  83: "STRING",
  84: "BINSTRING",
  85: "SHORT_BINSTRING",
  86: "UNICODE",
  88: "BINUNICODE",
  97: "APPEND",
  98: "BUILD",
  99: "GLOBAL",
  100: "DICT",
  101: "APPENDS",
  103: "GET",
  104: "BINGET",
  105: "INST",
  106: "LONG_BINGET",
  108: "LIST",
  111: "OBJ",
  112: "PUT",
  113: "BINPUT",
  114: "LONG_BINPUT",
  115: "SETITEM",
  116: "TUPLE",
  117: "SETITEMS",
  125: "EMPTY_DICT",
  93: "EMPTY_LIST",
  41: "EMPTY_TUPLE",
  128: "PROTO",
  129: "NEWOBJ",
  130: "EXT1",
  131: "EXT2",
  132: "EXT4",
  133: "TUPLE1",
  134: "TUPLE2",
  135: "TUPLE3",
  136: "NEWTRUE",
  137: "NEWFALSE",
  138: "LONG1",
  139: "LONG4",
  140: "SHORT_BINUNICODE",
  141: "BINUNICODE8",
  142: "BINBYTES8",
  143: "EMPTY_SET",
  144: "ADDITEMS",
  145: "FROZENSET",
  146: "NEWOBJ_EX",
  147: "STACK_GLOBAL",
  148: "MEMOIZE",
  149: "FRAME",
  150: "BYTEARRAY8",
  151: "NEXT_BUFFER",
  152: "READONLY_BUFFER",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Python int from little-endian two's complement bytes: a number when it is a safe integer, a bigint otherwise. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function isHashableKey(key: unknown): boolean {
  return key === null || ["string", "number", "bigint", "boolean"].includes(typeof key);
}

/** A short description of a pickle value for error messages. */
export function describePickleValue(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof PickleTuple) return `tuple of ${value.items.length}`;
  if (Array.isArray(value)) return `list of ${value.length}`;
  if (value instanceof Map) return `dict of ${value.size}`;
  if (value instanceof Uint8Array) return `bytes of ${value.length}`;
  if (value instanceof PickleInstance) return value.className;
  if (typeof value === "object" && "qualifiedName" in value) return String(value.qualifiedName);
  if (typeof value === "object") return value.constructor.name;
  return typeof value;
}

/**
 * Unpickles one pickle starting at `start`. Returns the value and the offset just past its STOP opcode (legacy
 * PyTorch files hold several pickles back to back).
 */
export function unpickle(
  bytes: Uint8Array,
  start: number,
  options: UnpickleOptions,
): { value: unknown; end: number } {
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (at: number, message: string): never => {
    throw new TensorFileError(`pickle at byte ${at}: ${message}`);
  };
  const need = (count: number): number => {
    if (count < 0 || pos + count > bytes.length) fail(pos, "unexpected end of data: the file is truncated");
    const at = pos;
    pos += count;
    return at;
  };
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(pos, "unexpected end of data in a text line: the file is truncated");
    const line = decodeLatin1(bytes.subarray(pos, end));
    pos = end + 1;
    return line;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail(pos, "stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(pos, "stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = metastack.pop();
    if (!previous) fail(pos, "no MARK on the stack");
    stack = previous!;
    return items;
  };
  const memoGet = (index: number): unknown => {
    if (!memo.has(index)) fail(pos, `memo entry ${index} is not defined`);
    return memo.get(index);
  };
  // Little-endian unsigned arguments: lengths, memo indices.
  const uint8 = (): number => bytes[need(1)];
  const uint32 = (): number => data.getUint32(need(4), true);
  const uint64 = (): number => Number(data.getBigUint64(need(8), true));
  // The next `length` bytes, as a copy (`bytes` may be a Node Buffer, whose slice() returns a view) or as text.
  const readBytes = (length: number): Uint8Array => {
    const at = need(length);
    return new Uint8Array(bytes.subarray(at, pos));
  };
  const readUtf8 = (length: number): string => {
    const at = need(length);
    try {
      return utf8.decode(bytes.subarray(at, pos));
    } catch {
      return fail(at, "string is not valid UTF-8");
    }
  };
  const readLatin1 = (length: number): string => decodeLatin1(bytes.subarray(need(length), pos));
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail(pos, `cannot set items on a ${describePickleValue(dict)}`);
    if (items.length % 2 !== 0) fail(pos, "odd number of items for a dict");
    for (let i = 0; i < items.length; i += 2) {
      if (!isHashableKey(items[i])) fail(pos, `unsupported dict key type ${describePickleValue(items[i])}`);
      (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
    }
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail(pos, `cannot append to a ${describePickleValue(list)}`);
    for (const item of items) (list as unknown[]).push(item);
  };
  const callGlobal = (callable: unknown, args: unknown, opcode: string): unknown => {
    if (!(args instanceof PickleTuple)) fail(pos, `${opcode} arguments must be a tuple`);
    const global = callable as PickleGlobal | undefined;
    if (typeof global !== "object" || global === null || typeof global.qualifiedName !== "string") {
      return fail(pos, `${opcode} on a ${describePickleValue(callable)}, which is not an allowed global`);
    }
    if (!global.call) return fail(pos, `${global.qualifiedName} may not be called in a weights file`);
    return global.call((args as PickleTuple).items);
  };

  for (;;) {
    const at = need(1);
    const op = bytes[at];
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)] > 5) fail(at, `pickle protocol ${bytes[at + 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: only a length hint for buffered readers
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || metastack.length !== 0) fail(at, "STOP with a malformed stack");
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(data.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(uint8());
        break;
      case 0x4d: // BININT2
        stack.push(data.getUint16(need(2), true));
        break;
      case 0x8a: {
        // LONG1
        const length = uint8();
        const from = need(length);
        stack.push(decodeLong(bytes.subarray(from, from + length)));
        break;
      }
      case 0x8b: {
        // LONG4: a state dict never needs more than 8 bytes; refuse giant numbers rather than build them
        const length = data.getInt32(need(4), true);
        if (length > 64) fail(at, `LONG4 of ${length} bytes is too large`);
        const from = need(length);
        stack.push(decodeLong(bytes.subarray(from, from + length)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian float64)
        stack.push(data.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(readUtf8(uint32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(readUtf8(uint8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(readUtf8(uint64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str): bytes read as latin-1, as Python 3 does with encoding="latin1"
        stack.push(readLatin1(uint8()));
        break;
      case 0x54: // BINSTRING (a signed length: a negative one fails as truncated data)
        stack.push(readLatin1(data.getInt32(need(4), true)));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(readBytes(uint8()));
        break;
      case 0x42: // BINBYTES
        stack.push(readBytes(uint32()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(readBytes(uint64()));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PickleTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PickleTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PickleTuple([pop(), b, c]));
        break;
      }
      // popMark replaces `stack`, so it must run before the push reads the variable.
      case 0x74: {
        // TUPLE
        const items = popMark();
        stack.push(new PickleTuple(items));
        break;
      }
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        // DICT
        const dict = new Map();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(uint8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(uint32()));
        break;
      case 0x71: // BINPUT
        memo.set(uint8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(uint32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: {
        // GLOBAL
        const module = readLine();
        const name = readLine();
        stack.push(options.findGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          fail(at, "STACK_GLOBAL needs two strings");
        stack.push(options.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(callGlobal(callable, args, "REDUCE"));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args, "NEWOBJ"));
        break;
      }
      case 0x62: {
        // BUILD: only plain-data instances take a state; dicts keep theirs aside (a state dict's `_metadata`)
        const state = pop();
        const target = top();
        if (target instanceof PickleInstance) target.state = state;
        else if (!(target instanceof Map))
          fail(at, `BUILD on a ${describePickleValue(target)} is not allowed`);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail(at, "persistent ids are not expected in this pickle");
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        fail(
          at,
          name
            ? `opcode ${name} is not part of the state-dict subset this reader accepts`
            : `unknown opcode 0x${op.toString(16).padStart(2, "0")}: not a pickle, or a damaged one`,
        );
      }
    }
  }
}
