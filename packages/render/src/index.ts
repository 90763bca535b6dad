// @vdet/render: annotated video — boxes, class names, track ids and trails drawn into every frame, encoded MP4.
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
