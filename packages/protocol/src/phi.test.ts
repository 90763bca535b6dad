import assert from "node:assert/strict";
import { test } from "node:test";
import { PHI_VALUES, parsePhi, phiLabel, phiSchema, UnknownPhiError } from "./phi.ts";

test("parsePhi and the φ schema read the same spellings and refuse the same values", () => {
  const accepted: [unknown, string | number][] = [
    [0, 0],
    ["3", 3],
    [" 3 ", 3],
    ["d5", 5],
    ["D7x", "7x"],
    ["7X", "7x"],
  ];
  for (const [value, phi] of accepted) {
    assert.equal(parsePhi(value), phi);
    assert.equal(phiSchema.parse(value), phi);
  }
  for (const value of [8, -1, "d9", "7y", "", 1.5]) {
    assert.throws(() => parsePhi(value), UnknownPhiError);
    assert.equal(phiSchema.safeParse(value).success, false);
  }
  assert.throws(() => parsePhi("d9"), /unknown EfficientDet coefficient φ=d9: use 0…7 or 7x/);
});

test("phiLabel names every φ as its model: D0 … D7x", () => {
  assert.deepEqual(PHI_VALUES.map(phiLabel), ["D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D7x"]);
});
