// The grammar of values in environment variables and flags, the same for every setting: booleans, whole
// numbers in a range, comma-separated lists.

import { PRECISIONS, type Precision, readPrecision } from "@vdet/protocol";
import { z } from "zod";

const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

/** true/false, 1/0, yes/no, on/off (any case); a real boolean from a flag passes as it is. */
export const envBoolean = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === "boolean") return value;
  const word = value.trim().toLowerCase();
  if (TRUE.includes(word)) return true;
  if (FALSE.includes(word)) return false;
  ctx.addIssue({ code: "custom", message: "is not a boolean: use true or false (or 1/0, yes/no, on/off)" });
  return z.NEVER;
});

/** A whole number from min to max. */
export const envInt = (min: number, max: number) =>
  z.coerce
    .number({ error: "is not a number" })
    .int({ error: "is not a whole number" })
    .min(min, { error: `is not from ${min} to ${max}` })
    .max(max, { error: `is not from ${min} to ${max}` });

/** "a, b,c" → ["a", "b", "c"] (empty entries dropped). */
export const envList = (fallback = "") =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean),
    );

/** A whole number from 1 up. */
export const envPositiveInt = z.coerce
  .number({ error: "is not a positive whole number" })
  .int({ error: "is not a positive whole number" })
  .min(1, { error: "is not a positive whole number" })
  .max(Number.MAX_SAFE_INTEGER, { error: "is not a positive whole number" });

/** One of a fixed set of words. */
export const envEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `is not one of ${values.join(", ")}` });

/** One VDET_WEIGHTS entry: where φ's weights are (absent: the default ones) and the precision it runs at. */
export interface WeightsEntry {
  /** A checkpoint, deploy ONNX file or cached model name; absent for `φ=@int8` (φ's default weights). */
  reference?: string;
  /** Absent: the worker's --precision (VDET_PRECISION). */
  precision?: Precision;
}

/**
 * VDET_WEIGHTS / --weights: comma-separated `φ=REFERENCE[@PRECISION]` or `φ=@PRECISION` entries, e.g.
 * `0=/m/d0.pth,1=d1@int8,3=@int8`. φ is 0…7 or 7x (a leading d/D allowed); the precision is fp32 or int8.
 * A reference that itself ends in `@word` is read as a precision only when the word is one.
 */
export const weightsList = z
  .string()
  .default("")
  .transform((s, ctx) => {
    const out: Record<string, WeightsEntry> = {};
    for (const part of s.split(",").filter((p) => p.trim() !== "")) {
      const match = /^(d?(?:[0-7]|7x))=(.*)$/i.exec(part.trim());
      const phi = match?.[1].toLowerCase().replace(/^d/, "");
      let reference = match?.[2] ?? "";
      let precision: Precision | undefined;
      const at = reference.lastIndexOf("@");
      if (at >= 0) {
        const word = reference.slice(at + 1);
        precision = readPrecision(word);
        if (precision === undefined && (at === 0 || /^[a-z0-9]+$/i.test(word))) {
          ctx.addIssue({
            code: "custom",
            message: `weights entry "${part}": unknown precision "${word}" (use ${PRECISIONS.join(" or ")})`,
          });
          continue;
        }
        if (precision !== undefined) reference = reference.slice(0, at);
      }
      if (!match || phi === undefined || (reference === "" && precision === undefined)) {
        ctx.addIssue({
          code: "custom",
          message: `weights entries look like 0=/path/d0.pth, 1=d1@int8 or 3=@int8, got "${part}"`,
        });
        continue;
      }
      if (out[phi] !== undefined) {
        ctx.addIssue({ code: "custom", message: `weights: φ=${phi} is given twice` });
        continue;
      }
      out[phi] = { ...(reference ? { reference } : {}), ...(precision ? { precision } : {}) };
    }
    return out;
  });

/** The references of a parsed weights list (φ → file or cached model name), entries without one left out. */
export function weightReferences(entries: Record<string, WeightsEntry>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(entries).flatMap(([phi, e]) => (e.reference ? [[phi, e.reference]] : [])),
  );
}

/** The precision per φ of a parsed weights list, `fallback` where an entry names none. */
export function weightPrecisions(
  entries: Record<string, WeightsEntry>,
  fallback: Precision,
): Record<string, Precision> {
  return Object.fromEntries(Object.entries(entries).map(([phi, e]) => [phi, e.precision ?? fallback]));
}
