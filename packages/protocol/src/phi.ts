// φ (the EfficientDet scaling coefficient) as it appears in job specs, messages and flags: 0…7 or "7x", ordered.

import { VdetError } from "@vdet/errors";
import { z } from "zod";
import { PROTOCOL_ERRORS } from "./error-codes.ts";

export const PHI_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, "7x"] as const;
export type PhiValue = (typeof PHI_VALUES)[number];

/** Position of φ in the order D0 < D1 < … < D7 < D7x. */
export function phiRank(phi: PhiValue): number {
  return PHI_VALUES.indexOf(phi);
}

/** The model's name for φ: D0 … D7x. */
export function phiLabel(phi: PhiValue): string {
  return `D${phi}`;
}

export class UnknownPhiError extends VdetError {
  constructor(value: unknown) {
    super(
      PROTOCOL_ERRORS.UNKNOWN_PHI,
      `unknown EfficientDet coefficient φ=${String(value)}: use 0…7 or 7x (D0…D7, D7x)`,
    );
  }
}

/** "0".."7", "7x", "d3", "D7x" or a number as a φ; undefined for anything else. */
function readPhi(value: unknown): PhiValue | undefined {
  const text = String(value).trim().toLowerCase().replace(/^d/, "");
  if (text === "7x") return "7x";
  if (/^[0-7]$/.test(text)) return Number(text) as PhiValue;
  return undefined;
}

/** Parses "0".."7", "7x", "d3", "D7x" or a number into a φ; throws UnknownPhiError otherwise. */
export function parsePhi(value: unknown): PhiValue {
  const phi = readPhi(value);
  if (phi === undefined) throw new UnknownPhiError(value);
  return phi;
}

export const phiSchema = z.union([z.number(), z.string()]).transform((value, ctx): PhiValue => {
  const phi = readPhi(value);
  if (phi !== undefined) return phi;
  ctx.addIssue({ code: "custom", message: `unknown φ "${value}": use 0…7 or 7x` });
  return z.NEVER;
});

export const phiRangeSchema = z
  .object({ min: phiSchema, max: phiSchema })
  .strict()
  .refine((r) => phiRank(r.min) <= phiRank(r.max), { message: "phi.min must not be above phi.max" });
export type PhiRange = z.infer<typeof phiRangeSchema>;

/**
 * The numeric precision a model runs at: fp32 (the built graph) or int8 (its statically quantised QDQ build,
 * docs/model.md "int8"). With φ it makes a worker's model choice.
 */
export const PRECISIONS = ["fp32", "int8"] as const;
export type Precision = (typeof PRECISIONS)[number];
export const DEFAULT_PRECISION: Precision = "fp32";

/** One model a worker can run: φ at a precision. */
export interface ModelChoice {
  phi: PhiValue;
  precision: Precision;
}

/** "D1" for fp32, "D1-int8" otherwise: how a choice is named in logs, metrics and tables. */
export function choiceLabel(choice: ModelChoice): string {
  return choice.precision === "fp32" ? phiLabel(choice.phi) : `${phiLabel(choice.phi)}-${choice.precision}`;
}

/** A precision from a flag or setting ("fp32", "INT8"); undefined for anything else. */
export function readPrecision(value: unknown): Precision | undefined {
  const text = String(value).trim().toLowerCase();
  return (PRECISIONS as readonly string[]).includes(text) ? (text as Precision) : undefined;
}

export const precisionSchema = z.enum(PRECISIONS, { error: `is not one of ${PRECISIONS.join(", ")}` });
