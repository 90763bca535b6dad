// The Redis every test uses: VDET_REDIS_URL (scripts/test.mjs sets it when it starts a throwaway redis-server),
// else the deployment default. The one place tests read the address from.

import { COMMON_DEFAULTS } from "@vdet/config";

export const TEST_REDIS_URL = process.env.VDET_REDIS_URL ?? COMMON_DEFAULTS.redisUrl;
