import assert from "node:assert/strict";
import { test } from "node:test";
import { BOW_TIE_ZONES } from "../testing/index.ts";
import { anchorPoint, InvalidZonesError, parseZonesFile, resolveZones } from "./zones.ts";

const line = { name: "gate", from: [0, 50], to: [100, 50] };
const zone = {
  name: "counter",
  polygon: [
    [0, 0],
    [10, 0],
    [10, 10],
  ],
};

function problems(value: unknown): string {
  try {
    parseZonesFile(value);
  } catch (error) {
    assert.ok(error instanceof InvalidZonesError);
    return error.message;
  }
  assert.fail("expected the zones file to be refused");
}

test("a valid file gets its defaults: pixels, bottom-center, inertia 3", () => {
  const file = parseZonesFile({ zones: [zone], lines: [line] });
  assert.equal(file.coordinates, "pixels");
  const resolved = resolveZones(file);
  assert.equal(resolved.zones[0].anchor, "bottom-center");
  assert.equal(resolved.lines[0].inertiaFrames, 3);
  assert.equal(resolved.zones[0].classes, null);
  assert.deepEqual(resolved.lines[0].from, [0, 50]);
});

test("degenerate shapes are refused with the shape's name and what to do", () => {
  assert.match(
    problems({
      zones: [
        {
          name: "z",
          polygon: [
            [0, 0],
            [1, 1],
          ],
        },
      ],
    }),
    /zones\.0\.polygon: a polygon needs at least 3 points/,
  );
  assert.match(
    problems({ lines: [{ name: "l", from: [5, 5], to: [5, 5] }] }),
    /lines\.0\.to: .*zero-length line/,
  );
  assert.match(problems(BOW_TIE_ZONES), /zone "bow" is not a simple polygon: .*self-intersecting/);
  assert.match(
    problems({
      zones: [
        {
          name: "flat",
          polygon: [
            [0, 0],
            [5, 5],
            [10, 10],
          ],
        },
      ],
    }),
    /zone "flat" .*area is zero/,
  );
  assert.match(
    problems({
      zones: [
        {
          name: "ring",
          polygon: [
            [
              [0, 0],
              [10, 0],
              [10, 10],
            ],
            [
              [2, 2],
              [3, 2],
              [3, 3],
            ],
          ],
        },
      ],
    }),
    /polygon with holes\) are not supported/,
  );
  assert.match(
    problems({
      zones: [
        {
          ...zone,
          holes: [
            [
              [2, 2],
              [3, 2],
              [3, 3],
            ],
          ],
        },
      ],
    }),
    /zones\.0\.holes: zone "counter": polygons with holes are not supported/,
  );
  assert.match(problems({ zones: [], lines: [] }), /defines no zone and no line/);
  assert.match(problems({ zones: [{ ...zone, name: "gate" }], lines: [line] }), /name "gate" is used twice/);
  assert.match(problems({ lines: [{ ...line, classes: [] }] }), /at least one class/);
  assert.match(problems({ lines: [{ ...line, anchor: "feet" }] }), /anchor must be one of bottom-center/);
  assert.match(problems({ lines: [{ ...line, from: [0, Number.NaN] }] }), /lines\.0\.from\.1: /);
});

test("normalized coordinates are scaled by the frame size, and need it", () => {
  const file = parseZonesFile({
    coordinates: "normalized",
    lines: [{ name: "mid", from: [0, 0.5], to: [1, 0.5] }],
  });
  assert.deepEqual(resolveZones(file, { width: 640, height: 480 }).lines[0].to, [640, 240]);
  assert.throws(() => resolveZones(file), /normalized coordinates, which need the video's width and height/);
  const mixed = parseZonesFile({
    coordinates: "normalized",
    lines: [{ name: "px", from: [0, 100], to: [200, 100], coordinates: "pixels" }],
  });
  assert.deepEqual(resolveZones(mixed).lines[0].to, [200, 100]);
});

test("anchors", () => {
  assert.deepEqual(anchorPoint(10, 20, 30, 60, "bottom-center"), [20, 60]);
  assert.deepEqual(anchorPoint(10, 20, 30, 60, "center"), [20, 40]);
  assert.deepEqual(anchorPoint(10, 20, 30, 60, "top-left"), [10, 20]);
  assert.deepEqual(anchorPoint(10, 20, 30, 60, "center-right"), [30, 40]);
});
