// @vdet/render: annotated video — boxes, class names, track ids and trails (and zones and lines with their counts)
// drawn into every frame, encoded MP4 (or one frame as a PNG).
export {
  Annotator,
  type AnnotatorOptions,
  drawDetections,
  labelFor,
  samplingIntervalMs,
  trackColor,
} from "./annotate.ts";
export { drawLine, drawText, fillRect, type Rgb, strokeRect, textHeight, textWidth } from "./draw.ts";
export { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from "./font.ts";
export {
  defaultCodec,
  type RenderOptions,
  type RenderRange,
  type RenderResult,
  renderAnnotatedVideo,
  type VideoCodec,
} from "./render.ts";
export { InvalidTracksError, parseTracksJsonl, RENDER_ERRORS, type TrackFrame } from "./tracks.ts";
export { drawZones, LINE_COLOR, lineLabel, ZONE_COLOR, zoneLabel } from "./zones.ts";
