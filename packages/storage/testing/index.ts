// Test support for other packages' tests (import from "@vdet/storage/testing"): a real S3-protocol server in a
// child process and a fault-injecting proxy to put in front of it. Not for production code.

export {
  type Fault,
  type FaultPlan,
  type FaultProxy,
  faultFirst,
  type ProxiedRequest,
  startFaultProxy,
} from "./fault-proxy.ts";
export { S3RVER_CREDENTIALS, startTestS3, type TestS3 } from "./s3rver.ts";
