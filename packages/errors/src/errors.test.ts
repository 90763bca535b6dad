import assert from "node:assert/strict";
import { test } from "node:test";
import {
  codedError,
  defineErrorCodes,
  errorCodes,
  errorStatusCode,
  InvariantError,
  isRetryable,
  VdetError,
} from "./errors.ts";

const CODES = defineErrorCodes("errors-test", {
  TEST_GONE: { retryable: false, statusCode: 404, description: "test: not there" },
  TEST_BUSY: { retryable: true, description: "test: try again" },
});
class GoneError extends codedError(CODES.TEST_GONE) {}

test("an error takes retryable and statusCode from its code, and its class name", () => {
  const gone = new GoneError("no such thing", { cause: new Error("inner") });
  assert.ok(gone instanceof VdetError);
  assert.equal(gone.name, "GoneError");
  assert.equal(gone.code, "TEST_GONE");
  assert.equal(gone.retryable, false);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.message, "no such thing");
  assert.equal((gone.cause as Error).message, "inner");
  const busy = new VdetError(CODES.TEST_BUSY, "busy");
  assert.equal(busy.retryable, true);
  assert.equal(busy.statusCode, undefined);
  assert.equal(new VdetError(CODES.TEST_BUSY, "x", { retryable: false }).retryable, false);
});

test("retry and HTTP decisions read the fields: unknown errors may be retried and are 500s", () => {
  assert.equal(isRetryable(new GoneError("x")), false);
  assert.equal(isRetryable(new VdetError(CODES.TEST_BUSY, "x")), true);
  assert.equal(isRetryable(new TypeError("bug")), true);
  assert.equal(errorStatusCode(new GoneError("x")), 404);
  assert.equal(errorStatusCode(new InvariantError("x")), 500);
  assert.equal(errorStatusCode(new Error("x")), 500);
  assert.equal(errorStatusCode(Object.assign(new Error("x"), { statusCode: 413 })), 413);
});

test("a code belongs to one package", () => {
  assert.throws(
    () => defineErrorCodes("another", { TEST_GONE: { retryable: false, description: "again" } }),
    (e: unknown) => e instanceof VdetError && e.code === "DUPLICATE_ERROR_CODE",
  );
  const listed = errorCodes().find((c) => c.code === "TEST_GONE");
  assert.equal(listed?.scope, "errors-test");
});
