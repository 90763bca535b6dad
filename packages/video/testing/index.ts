// Test support for other packages' tests (import from "@vdet/video/testing"): the clip generator. Not for
// production code.

export {
  H264,
  makeLavfiClip,
  makeNumberedClip,
  makeTestClip,
  numberedFrames,
  readFrameNumber,
  runFfmpeg,
  startLiveLavfi,
  testPattern,
  waitForFile,
} from "./clips.ts";
