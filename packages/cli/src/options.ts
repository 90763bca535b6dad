// Parsers for numeric CLI options that name the option in their error.

import { InvalidArgumentError } from "commander";

export function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

export function probability(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("must be a number from 0 to 1");
  return n;
}

/** --size WIDTHxHEIGHT in pixels. */
export function frameSize(value: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0)
    throw new InvalidArgumentError("--size must be WIDTHxHEIGHT in pixels, e.g. 1920x1080");
  return { width: Number(m[1]), height: Number(m[2]) };
}
