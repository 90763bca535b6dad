// @vdet/render: annotated video — boxes, class names, track ids and trails drawn into every frame, encoded MP4.
export * from "./annotate.ts";
export * from "./draw.ts";
export * from "./font.ts";
export * from "./render.ts";
export * from "./tracks.ts";
