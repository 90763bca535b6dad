// Test support for every package's tests and the benchmarks (import from "@vdet/cli/testing"): the `vdet` binary
// run as a command or as a role. Not for production code.

export {
  execVdet,
  type RoleOptions,
  type RoleProcess,
  runVdet,
  startRole,
  stopRoles,
  type VdetCommandOptions,
  vdetBin,
} from "./vdet.ts";
