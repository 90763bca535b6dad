// The notifier of a role that sends notifications (the aggregator: job ends; the producer: stream state changes
// and gaps): one home for how it is built from the role's settings, so every sender signs with the same secret,
// reaches the same SNS endpoint and checks webhook hosts against the same address policy.

import { RedisNotificationStore } from "@vdet/jobs";
import { Notifier } from "@vdet/notify";
import type { Logger } from "pino";
import { inputPolicyFor } from "./input-policy.ts";

export function roleNotifier(
  config: { inputAllowAddresses: string[]; notifySecret?: string; snsEndpoint?: string },
  redis: ConstructorParameters<typeof RedisNotificationStore>[0],
  keys: ConstructorParameters<typeof RedisNotificationStore>[1],
  logger: Logger,
): Notifier {
  return new Notifier({
    store: new RedisNotificationStore(redis, keys),
    // Webhook hosts: global unicast, plus what network inputs may reach (VDET_INPUT_ALLOW_ADDRESSES).
    policy: inputPolicyFor({
      allowFileInputs: false,
      inputBuckets: [],
      inputRoots: [],
      inputAllowAddresses: config.inputAllowAddresses,
    }),
    secret: config.notifySecret,
    snsEndpoint: config.snsEndpoint,
    logger: logger.child({ stage: "notify" }),
  });
}
