// Test support for other packages' tests (import from "@vdet/video/testing"): the clip generator and a loopback
// server with faults (404, truncated, stalled) and byte ranges. Not for production code.

export {
  H264,
  makeLavfiClip,
  makeNumberedClip,
  makeNumberedHls,
  makeTestClip,
  numberedFrames,
  readFrameNumber,
  runFfmpeg,
  startLiveLavfi,
  testPattern,
  useTempDir,
  waitForFile,
} from "./clips.ts";
export { type Fault, type FaultServer, startFaultServer } from "./fault-server.ts";
