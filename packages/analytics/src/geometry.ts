// Plane geometry for zones and lines, in source pixels (y grows downwards): which side of a directed line a point
// is on, whether two segments meet, whether a point is inside a polygon, and whether a polygon is simple.
// Boundaries are inclusive everywhere: a point on a polygon's edge is inside, a path through a line's end point
// crosses it. Everything is exact arithmetic on the given numbers (no tolerance), so results do not depend on scale.

export type Point = readonly [number, number];

/** (b − a) × (p − a): > 0 when p is right of a→b as seen on screen (y down), < 0 left, 0 on the line. */
export function cross(a: Point, b: Point, p: Point): number {
  return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
}

/** −1, 0 or 1: the side of the directed line a→b that p is on (1 = right on screen). */
export function sideOf(a: Point, b: Point, p: Point): -1 | 0 | 1 {
  const c = cross(a, b, p);
  return c > 0 ? 1 : c < 0 ? -1 : 0;
}

/** True when p lies on the closed segment a–b. */
export function onSegment(a: Point, b: Point, p: Point): boolean {
  return (
    cross(a, b, p) === 0 &&
    p[0] >= Math.min(a[0], b[0]) &&
    p[0] <= Math.max(a[0], b[0]) &&
    p[1] >= Math.min(a[1], b[1]) &&
    p[1] <= Math.max(a[1], b[1])
  );
}

/** True when the closed segments p1–p2 and q1–q2 share at least one point (touching counts). */
export function segmentsIntersect(p1: Point, p2: Point, q1: Point, q2: Point): boolean {
  const d1 = sideOf(q1, q2, p1);
  const d2 = sideOf(q1, q2, p2);
  const d3 = sideOf(p1, p2, q1);
  const d4 = sideOf(p1, p2, q2);
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (
    (d1 === 0 && onSegment(q1, q2, p1)) ||
    (d2 === 0 && onSegment(q1, q2, p2)) ||
    (d3 === 0 && onSegment(p1, p2, q1)) ||
    (d4 === 0 && onSegment(p1, p2, q2))
  );
}

/** Inside or on the boundary of a simple polygon (even–odd rule with half-open edges, boundary checked first). */
export function pointInPolygon(polygon: readonly Point[], p: Point): boolean {
  const n = polygon.length;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const a = polygon[j];
    const b = polygon[i];
    if (onSegment(a, b, p)) return true;
    // Half-open in y, so a ray through a vertex counts the vertex once.
    if (a[1] > p[1] !== b[1] > p[1]) {
      const x = a[0] + ((p[1] - a[1]) * (b[0] - a[0])) / (b[1] - a[1]);
      if (p[0] < x) inside = !inside;
    }
  }
  return inside;
}

/**
 * Why a polygon is not simple, or null: repeated consecutive vertices, all points on one line, or two edges that meet anywhere
 * but at the vertex they share (which also catches a polygon that touches itself, as a ring with a hole drawn
 * as one outline through a cut does).
 */
export function polygonProblem(polygon: readonly Point[]): string | null {
  const n = polygon.length;
  for (let i = 0; i < n; i++) {
    const a = polygon[i];
    const b = polygon[(i + 1) % n];
    if (a[0] === b[0] && a[1] === b[1]) return `vertices ${i} and ${(i + 1) % n} are the same point`;
  }
  if (polygon.every((p) => cross(polygon[0], polygon[1], p) === 0))
    return "its area is zero (all points on one line)";
  for (let i = 0; i < n; i++) {
    const a1 = polygon[i];
    const a2 = polygon[(i + 1) % n];
    for (let j = i + 1; j < n; j++) {
      const b1 = polygon[j];
      const b2 = polygon[(j + 1) % n];
      const adjacentAfter = j === i + 1;
      const adjacentBefore = (j + 1) % n === i;
      if (adjacentAfter || adjacentBefore) {
        // Neighbours share one vertex; they must not fold back over each other.
        const [shared, p, q] = adjacentAfter ? [a2, a1, b2] : [a1, a2, b1];
        if (
          cross(shared, p, q) === 0 &&
          (q[0] - shared[0]) * (p[0] - shared[0]) + (q[1] - shared[1]) * (p[1] - shared[1]) > 0
        )
          return `edges ${i} and ${j} overlap`;
        continue;
      }
      if (segmentsIntersect(a1, a2, b1, b2)) return `edges ${i} and ${j} cross or touch (self-intersecting)`;
    }
  }
  return null;
}
