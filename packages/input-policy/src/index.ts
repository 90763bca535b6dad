// @vdet/input-policy: what a job may read (input buckets, input roots, the address policy for network inputs),
// and the HTTP(S) proxy through which ffmpeg reaches the network under that policy.
export { addressProblem, type IpAddress, parseAddress } from "./address.ts";
export { INPUT_POLICY_ERRORS, InputNotAllowedError } from "./errors.ts";
export {
  InputPolicy,
  type InputPolicyOptions,
  type InputScheme,
  inputScheme,
  type Lookup,
  type LookupAddress,
} from "./policy.ts";
export { type InputProxy, startInputProxy } from "./proxy.ts";
