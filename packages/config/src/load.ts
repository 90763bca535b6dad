// Reading a configuration: flags (already parsed) win over environment variables, then the schema's
// defaults. A bad value fails with one ConfigError naming each variable to fix; describeConfig prints the
// result with secrets masked.

import { defineErrorCodes, VdetError } from "@vdet/errors";
import type { z } from "zod";
import { ENV_NAMES, SECRET_KEYS } from "./names.ts";

const CODES = defineErrorCodes("config", {
  INVALID_CONFIG: {
    retryable: false,
    description:
      "a setting (VDET_* variable, flag or file it names) is missing or invalid; the message names it",
  },
});

export class ConfigError extends VdetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(CODES.INVALID_CONFIG, message, options);
  }
}

type Env = Record<string, string | undefined>;

/** The variables a setting is read from, first set wins (most have one). */
export function envNames(key: string): readonly string[] {
  const names = ENV_NAMES[key];
  return names === undefined ? [] : typeof names === "string" ? [names] : names;
}

function fromEnv(key: string, env: Env): { name: string; value: string } | undefined {
  for (const name of envNames(key)) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== "") return { name, value };
  }
  return undefined;
}

/** Parses `schema`'s keys from their VDET_* variables, overridden by `flags`, then defaults. */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Env,
  flags: Record<string, unknown> = {},
): z.output<S> {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const found = fromEnv(key, env);
    if (found) {
      raw[key] = found.value;
      source[key] = found.name;
    }
    if (flags[key] !== undefined) {
      raw[key] = flags[key];
      source[key] = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    }
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    if (!(key in raw)) return `${envNames(key)[0] ?? key}: ${issue.message}`;
    const shown = SECRET_KEYS.has(key) ? "***" : String(raw[key]);
    return source[key].startsWith("--")
      ? `${source[key]} ${shown} ${issue.message}`
      : `${source[key]}=${shown} ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
}

/**
 * A URL with its credentials replaced by `***`, split the way ioredis splits a Redis URL (WHATWG URL: the
 * credentials end at the last `@` of the authority, so a raw `@`, `:` or `%` in a password stays inside them).
 * A URL that does not parse keeps nothing before its last `@`.
 */
export function maskUrlCredentials(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url);
  if (scheme === null || !url.includes("@")) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    return `${parsed.protocol}//***@${parsed.host}${parsed.pathname === "/" && !url.endsWith("/") ? "" : parsed.pathname}${parsed.search}${parsed.hash}`;
  } catch {
    return `${scheme[0]}***@${url.slice(url.lastIndexOf("@") + 1)}`;
  }
}

/** The configuration as one log-friendly object, secrets masked and credentials stripped from URLs. */
export function describeConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key)) out[key] = value === undefined ? undefined : "***";
    else if (typeof value === "string") out[key] = maskUrlCredentials(value);
    else out[key] = value;
  }
  return out;
}
