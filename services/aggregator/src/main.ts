// The aggregator process: configuration from VDET_* environment variables, runs until SIGTERM.
import { serveRole } from "@vdet/roles";

await serveRole("aggregator");
