// @vdet/analytics: zones and directed lines over tracked detections — enter / exit / crossing events, counts,
// occupancy, dwell and loitering, with a state that can be checkpointed and restored.
export * from "./analytics.ts";
export * from "./geometry.ts";
export type { AnalyticsSnapshot } from "./state.ts";
export * from "./stats.ts";
export * from "./summary.ts";
export * from "./zones.ts";
