// @vdet/analytics: zones and directed lines over tracked detections — enter / exit / crossing events, counts,
// occupancy, dwell and loitering, with a state that can be checkpointed and restored.
export {
  ANALYTICS_ERRORS,
  Analytics,
  type AnalyticsEvent,
  type AnalyticsFrame,
  AnalyticsStateError,
  analyticsFrame,
  type LineEvent,
  type TrackLineLike,
  type ZoneEvent,
} from "./analytics.ts";
export {
  cross,
  onSegment,
  type Point,
  pointInPolygon,
  polygonProblem,
  segmentsIntersect,
  sideOf,
} from "./geometry.ts";
export type { AnalyticsSnapshot } from "./state.ts";
export { type DwellStats, dwellStats, quantile } from "./stats.ts";
export {
  type AnalyticsSummary,
  type LineSummary,
  lineSummary,
  type SeriesPoint,
  type ZoneClassSummary,
  type ZoneSummary,
  zoneSummary,
} from "./summary.ts";
export {
  ANCHORS,
  type Anchor,
  anchorPoint,
  DEFAULT_ANCHOR,
  DEFAULT_INERTIA_FRAMES,
  DEFAULT_LOST_AFTER_MS,
  type FrameSize,
  InvalidZonesError,
  lineSchema,
  parseZonesFile,
  type ResolvedLine,
  type ResolvedZone,
  type ResolvedZones,
  resolveZones,
  ZONES_ERRORS,
  type ZonesFile,
  type ZonesFileInput,
  zoneSchema,
  zonesFileSchema,
} from "./zones.ts";
