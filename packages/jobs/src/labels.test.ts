// Class names ↔ ids for a job's φ range by the published models, with COCO where none is published.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jobClassIds } from "./labels.ts";

const D0 = { min: 0, max: 0 } as const;

describe("labels", () => {
  test("COCO names: case-insensitive, ids kept, unknown names list the 80 real classes", () => {
    assert.deepEqual(jobClassIds(["Person", "car", "dining table", "12"], {}, D0), [1, 3, 67, 12]);
    assert.throws(
      () => jobClassIds(["unicorn"], {}, D0),
      (error: Error) => {
        assert.match(
          error.message,
          /^unknown COCO class "unicorn"; the COCO classes are person, bicycle, car,/,
        );
        assert.doesNotMatch(error.message, /unused/);
        assert.match(error.message, /toothbrush$/);
        return true;
      },
    );
  });
});
