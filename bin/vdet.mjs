#!/usr/bin/env node
// Entry point of the `vdet` CLI: registers the TypeScript loader, then hands over to packages/cli.
import { register } from "tsx/esm/api";

register();
await import("../packages/cli/src/main.ts");
