// The zones file (zones.json): named polygons (zones) and directed lines, each with an optional class filter,
// the anchor point of a box that counts, and the inertia against jitter. Validated here with messages that say
// which shape is wrong and how; `resolveZones` turns normalised coordinates into source pixels.

import { codedError, defineErrorCodes } from "@vdet/errors";
import { z } from "zod";
import { type Point, polygonProblem } from "./geometry.ts";

/** The point of a detection box that is tested against zones and lines. */
export const ANCHORS = [
  "bottom-center",
  "center",
  "top-center",
  "bottom-left",
  "bottom-right",
  "top-left",
  "top-right",
  "center-left",
  "center-right",
] as const;
export type Anchor = (typeof ANCHORS)[number];

export const DEFAULT_ANCHOR: Anchor = "bottom-center";
/** Frames a track must stay on the new side / inside / outside before it counts (Frigate's default). */
export const DEFAULT_INERTIA_FRAMES = 3;
/** A track unseen this long leaves every zone it was in (exit with reason "lost"). */
export const DEFAULT_LOST_AFTER_MS = 2000;

const finite = z.number();
const pointSchema = z.tuple([finite, finite], {
  error: (issue) =>
    Array.isArray(issue.input) && issue.input.some(Array.isArray)
      ? "a point is [x, y]; nested rings (a polygon with holes) are not supported: draw the zone as several polygons"
      : "a point is [x, y]",
});

const coordinatesSchema = z.enum(["pixels", "normalized"], {
  error: 'coordinates must be "pixels" (source video pixels) or "normalized" (0 … 1 of width and height)',
});

const classFilterSchema = z
  .array(z.union([z.string().trim().min(1), z.number().int().min(0)]))
  .min(1, "classes, when given, must name at least one class (leave it out for all classes)");

const common = {
  name: z.string().trim().min(1, "a zone or line needs a name").max(128),
  /** Class names (labels) or class ids that count; all classes when absent. */
  classes: classFilterSchema.optional(),
  anchor: z.enum(ANCHORS, { error: `anchor must be one of ${ANCHORS.join(", ")}` }).optional(),
  inertiaFrames: z.number().int().min(1).max(1000).optional(),
  coordinates: coordinatesSchema.optional(),
};

export const zoneSchema = z
  .object({
    ...common,
    polygon: z.array(pointSchema).min(3, "a polygon needs at least 3 points"),
    /** A visit this long (ms) raises one loiter event. */
    loiterMs: z.number().positive().optional(),
    holes: z.unknown().optional(),
  })
  .strict()
  .superRefine((zone, ctx) => {
    if (zone.holes !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["holes"],
        message: `zone "${zone.name}": polygons with holes are not supported; draw the zone as several polygons around the hole`,
      });
    }
    const problem = polygonProblem(zone.polygon);
    if (problem)
      ctx.addIssue({
        code: "custom",
        path: ["polygon"],
        message: `zone "${zone.name}" is not a simple polygon: ${problem}`,
      });
  });

export const lineSchema = z
  .object({
    ...common,
    /** The line runs from → to; crossing it from its left to its right (as seen on screen) is "in". */
    from: pointSchema,
    to: pointSchema,
  })
  .strict()
  .refine((line) => line.from[0] !== line.to[0] || line.from[1] !== line.to[1], {
    path: ["to"],
    message: "a line's from and to must differ (zero-length line)",
  });

export const zonesFileSchema = z
  .object({
    /** Default for every shape; "normalized" needs the video's size. */
    coordinates: coordinatesSchema.default("pixels"),
    anchor: z.enum(ANCHORS).default(DEFAULT_ANCHOR),
    inertiaFrames: z.number().int().min(1).max(1000).default(DEFAULT_INERTIA_FRAMES),
    lostAfterMs: z.number().positive().default(DEFAULT_LOST_AFTER_MS),
    zones: z.array(zoneSchema).default([]),
    lines: z.array(lineSchema).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    if (file.zones.length + file.lines.length === 0)
      ctx.addIssue({ code: "custom", message: "the zones file defines no zone and no line" });
    const seen = new Set<string>();
    for (const [kind, shapes] of [
      ["zones", file.zones],
      ["lines", file.lines],
    ] as const) {
      shapes.forEach((s, i) => {
        if (seen.has(s.name))
          ctx.addIssue({
            code: "custom",
            path: [kind, i, "name"],
            message: `name "${s.name}" is used twice; zones and lines need distinct names`,
          });
        seen.add(s.name);
      });
    }
  });

export type ZonesFile = z.infer<typeof zonesFileSchema>;
export type ZonesFileInput = z.input<typeof zonesFileSchema>;

export const ZONES_ERRORS = defineErrorCodes("analytics", {
  INVALID_ZONES: {
    retryable: false,
    description: "a zones file fails validation; the message lists every problem",
  },
});

export class InvalidZonesError extends codedError(ZONES_ERRORS.INVALID_ZONES) {}

/** Parses a zones file (already JSON-decoded); errors list every problem as `path: message`. */
export function parseZonesFile(value: unknown, source = "zones.json"): ZonesFile {
  const result = zonesFileSchema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map(
    (i) => `  ${i.path.length ? i.path.join(".") : "(file)"}: ${i.message}`,
  );
  throw new InvalidZonesError(`${source} is not a valid zones file:\n${lines.join("\n")}`);
}

interface ResolvedCommon {
  name: string;
  classes: readonly (string | number)[] | null;
  anchor: Anchor;
  inertiaFrames: number;
}
export interface ResolvedZone extends ResolvedCommon {
  polygon: Point[];
  loiterMs: number | null;
}
export interface ResolvedLine extends ResolvedCommon {
  from: Point;
  to: Point;
}
/** Zones and lines in source pixels with every default filled in. */
export interface ResolvedZones {
  zones: ResolvedZone[];
  lines: ResolvedLine[];
  lostAfterMs: number;
}

export interface FrameSize {
  width: number;
  height: number;
}

/** Fills in defaults and scales normalised shapes by the frame size (required when any shape is normalised). */
export function resolveZones(file: ZonesFile, frameSize?: FrameSize): ResolvedZones {
  const scale = (name: string, coordinates: "pixels" | "normalized" | undefined, p: Point): Point => {
    if ((coordinates ?? file.coordinates) === "pixels") return [p[0], p[1]];
    if (!frameSize)
      throw new InvalidZonesError(
        `"${name}" uses normalized coordinates, which need the video's width and height (give --size WxH or a manifest.json with the video size)`,
      );
    return [p[0] * frameSize.width, p[1] * frameSize.height];
  };
  const common = (s: z.infer<typeof zoneSchema> | z.infer<typeof lineSchema>): ResolvedCommon => ({
    name: s.name,
    classes: s.classes ?? null,
    anchor: s.anchor ?? file.anchor,
    inertiaFrames: s.inertiaFrames ?? file.inertiaFrames,
  });
  return {
    zones: file.zones.map((z) => ({
      ...common(z),
      polygon: z.polygon.map((p) => scale(z.name, z.coordinates, p)),
      loiterMs: z.loiterMs ?? null,
    })),
    lines: file.lines.map((l) => ({
      ...common(l),
      from: scale(l.name, l.coordinates, l.from),
      to: scale(l.name, l.coordinates, l.to),
    })),
    lostAfterMs: file.lostAfterMs,
  };
}

/** Where each anchor lies on a box, across and down: 0 the left/top edge, 0.5 the centre, 1 the right/bottom edge. */
const ANCHOR_AT: Record<Anchor, readonly [x: number, y: number]> = {
  "bottom-center": [0.5, 1],
  center: [0.5, 0.5],
  "top-center": [0.5, 0],
  "bottom-left": [0, 1],
  "bottom-right": [1, 1],
  "top-left": [0, 0],
  "top-right": [1, 0],
  "center-left": [0, 0.5],
  "center-right": [1, 0.5],
};

/** `lo` at 0, `hi` at 1, else their midpoint. */
const along = (lo: number, hi: number, at: number): number => (at === 0 ? lo : at === 1 ? hi : (lo + hi) / 2);

/** The anchor of box x1, y1, x2, y2 (source pixels). */
export function anchorPoint(x1: number, y1: number, x2: number, y2: number, anchor: Anchor): Point {
  const [x, y] = ANCHOR_AT[anchor];
  return [along(x1, x2, x), along(y1, y2, y)];
}
