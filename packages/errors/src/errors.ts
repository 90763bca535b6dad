// One error base for every package, after Fastify's lib/errors.js: each error carries a stable `code` that
// callers switch on, whether retrying can help (`retryable`) and, where an HTTP answer follows from it, a
// `statusCode`. Retry decisions and HTTP mappings read these fields, never the class.

/** What a code means: declared once, where the code is defined. */
export interface ErrorCodeInfo {
  /** Whether doing the same thing again (redelivering the message, repeating the request) can succeed. */
  readonly retryable: boolean;
  /** The HTTP status an api answers with when this error reaches it; absent: 500 (not the client's doing). */
  readonly statusCode?: number;
  /** One line for docs/errors.md: when it happens. */
  readonly description: string;
}

export interface RegisteredErrorCode extends ErrorCodeInfo {
  readonly code: string;
  /** The package that defines it, e.g. "storage". */
  readonly scope: string;
}

const registry = new Map<string, RegisteredErrorCode>();

/**
 * Registers a package's error codes and returns them by name, so a class refers to `CODES.NOT_FOUND` rather
 * than repeating the string. A code belongs to one package: defining it twice throws.
 */
export function defineErrorCodes<const T extends Record<string, ErrorCodeInfo>>(
  scope: string,
  codes: T,
): { readonly [K in keyof T]: K } {
  const names = {} as { [K in keyof T]: K };
  for (const [code, info] of Object.entries(codes)) {
    const known = registry.get(code);
    if (known && known.scope !== scope) {
      throw new VdetError(
        "DUPLICATE_ERROR_CODE",
        `error code ${code} is defined by both ${known.scope} and ${scope}: give one of them another code`,
      );
    }
    registry.set(code, { code, scope, ...info });
    (names as Record<string, string>)[code] = code;
  }
  return names;
}

/** Every registered code, sorted by package then code (for docs/errors.md). */
export function errorCodes(): readonly RegisteredErrorCode[] {
  return [...registry.values()].sort((a, b) =>
    a.scope === b.scope ? a.code.localeCompare(b.code) : a.scope.localeCompare(b.scope),
  );
}

export interface VdetErrorOptions {
  cause?: unknown;
  /** Overrides the code's registered value for this one error. */
  retryable?: boolean;
  /** Overrides the code's registered value for this one error. */
  statusCode?: number;
}

export class VdetError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly statusCode: number | undefined;

  constructor(code: string, message: string, options: VdetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    const info = registry.get(code);
    this.code = code;
    this.retryable = options.retryable ?? info?.retryable ?? false;
    this.statusCode = options.statusCode ?? info?.statusCode;
  }
}

/**
 * A class for a code whose errors need nothing but a message (Fastify's createError):
 * `export class ModelRunError extends codedError(CODES.MODEL_RUN_FAILED) {}`.
 */
export function codedError(code: string) {
  return class extends VdetError {
    constructor(message: string, options?: VdetErrorOptions) {
      super(code, message, options);
    }
  };
}

/** Also true for a VdetError from another copy of this module (the check is on the fields, not the class). */
export function isVdetError(error: unknown): error is VdetError {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { retryable?: unknown }).retryable === "boolean"
  );
}

/** Whether doing it again can help: a VdetError says so; anything else (a bug, an unknown failure) may. */
export function isRetryable(error: unknown): boolean {
  return isVdetError(error) ? error.retryable : true;
}

/** The HTTP status an error maps to: its own 4xx/5xx statusCode, else 500. */
export function errorStatusCode(error: unknown): number {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" && status >= 400 && status < 600 ? status : 500;
}

const CODES = defineErrorCodes("errors", {
  DUPLICATE_ERROR_CODE: {
    retryable: false,
    description: "two packages define the same error code (a programming error, found at start-up)",
  },
  INTERNAL: {
    retryable: false,
    description:
      "an internal invariant does not hold (a bug in vdet, or an API used out of order); report it",
  },
});

/** Something that cannot happen unless vdet (or a caller of a library) has a bug. */
export class InvariantError extends codedError(CODES.INTERNAL) {}
