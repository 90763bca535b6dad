// The input policy of a role (api, producer) from its configuration: one InputPolicy per process.

import { ConfigError } from "@vdet/config";
import { InputPolicy } from "@vdet/input-policy";

export function inputPolicyFor(config: {
  allowFileInputs: boolean;
  inputBuckets: string[];
  inputRoots: string[];
  inputAllowAddresses: string[];
}): InputPolicy {
  try {
    return new InputPolicy({
      allowFileInputs: config.allowFileInputs,
      inputBuckets: config.inputBuckets,
      inputRoots: config.inputRoots,
      allowAddresses: config.inputAllowAddresses,
    });
  } catch (error) {
    throw new ConfigError(
      `invalid input policy (VDET_INPUT_ROOTS, VDET_INPUT_ALLOW_ADDRESSES): ${(error as Error).message}`,
    );
  }
}
