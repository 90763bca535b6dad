// The grammar of values in environment variables and flags, the same for every setting: booleans, whole
// numbers in a range, comma-separated lists.

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
