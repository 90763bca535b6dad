import assert from "node:assert/strict";
import { test } from "node:test";
import { type Point, pointInPolygon, polygonProblem, segmentsIntersect, sideOf } from "./geometry.ts";

const square: Point[] = [
  [0, 0],
  [10, 0],
  [10, 10],
  [0, 10],
];

test("sideOf: right of from→to on screen (y down) is 1, on the line 0", () => {
  assert.equal(sideOf([0, 0], [10, 0], [5, 3]), 1); // below a rightward line
  assert.equal(sideOf([0, 0], [10, 0], [5, -3]), -1);
  assert.equal(sideOf([0, 0], [10, 0], [20, 0]), 0); // on the line's extension
});

test("segmentsIntersect: proper crossing, touching at an end point or vertex, parallel, collinear", () => {
  assert.ok(segmentsIntersect([5, -1], [5, 1], [0, 0], [10, 0]));
  assert.ok(segmentsIntersect([10, -1], [10, 1], [0, 0], [10, 0]), "through the end point");
  assert.ok(segmentsIntersect([10, 0], [12, 3], [0, 0], [10, 0]), "starting on the end point");
  assert.ok(!segmentsIntersect([10.5, -1], [10.5, 1], [0, 0], [10, 0]), "past the end point");
  assert.ok(!segmentsIntersect([0, 1], [10, 1], [0, 0], [10, 0]), "parallel");
  assert.ok(segmentsIntersect([5, 0], [15, 0], [0, 0], [10, 0]), "collinear overlap");
  assert.ok(!segmentsIntersect([11, 0], [15, 0], [0, 0], [10, 0]), "collinear, apart");
});

test("pointInPolygon: inside, outside, on edges and exactly on vertices (boundary is inside)", () => {
  assert.ok(pointInPolygon(square, [5, 5]));
  assert.ok(!pointInPolygon(square, [15, 5]));
  for (const v of square) assert.ok(pointInPolygon(square, v), `vertex ${v}`);
  assert.ok(pointInPolygon(square, [5, 0]));
  assert.ok(pointInPolygon(square, [10, 7]));
  // A ray from the point passes exactly through vertices: counted once, not twice.
  const diamond: Point[] = [
    [5, 0],
    [10, 5],
    [5, 10],
    [0, 5],
  ];
  assert.ok(pointInPolygon(diamond, [2, 5]));
  assert.ok(!pointInPolygon(diamond, [-2, 5]));
  assert.ok(!pointInPolygon(diamond, [12, 5]));
  // Concave polygon with a vertex at the ray's height.
  const chevron: Point[] = [
    [0, 0],
    [10, 0],
    [5, 5],
    [10, 10],
    [0, 10],
  ];
  assert.ok(!pointInPolygon(chevron, [8, 5]));
  assert.ok(pointInPolygon(chevron, [3, 5]));
});

test("polygonProblem: simple polygons pass; repeated points, zero area, self-intersection refused", () => {
  assert.equal(polygonProblem(square), null);
  assert.match(
    polygonProblem([
      [0, 0],
      [0, 0],
      [10, 10],
    ]) ?? "",
    /same point/,
  );
  assert.match(
    polygonProblem([
      [0, 0],
      [5, 5],
      [10, 10],
    ]) ?? "",
    /area is zero/,
  );
  assert.match(
    polygonProblem([
      [0, 0],
      [10, 10],
      [10, 0],
      [0, 10],
    ]) ?? "",
    /self-intersecting/,
    "bow tie",
  );
  // An outline with a hole drawn through a cut touches itself along the cut.
  assert.match(
    polygonProblem([
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
      [0, 0],
      [3, 3],
      [3, 6],
      [6, 6],
      [6, 3],
      [3, 3],
    ]) ?? "",
    /same point|cross or touch|overlap/,
  );
  // A spike that folds back over its own edge.
  assert.match(
    polygonProblem([
      [0, 0],
      [10, 0],
      [5, 0],
      [5, 5],
    ]) ?? "",
    /overlap|cross or touch/,
  );
});
