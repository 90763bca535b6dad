export * from "./archive-policy.ts";
export * from "./latency-profile.ts";
export * from "./phi-policy.ts";
export * from "./planner.ts";
export * from "./profile-cache.ts";
