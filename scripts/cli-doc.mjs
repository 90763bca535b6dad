#!/usr/bin/env node
// Writes docs/cli.md from the CLI's commander definitions (packages/cli/src/cli-doc.ts). `--check` changes
// nothing and exits 1 when the doc is not what the definitions give; `npm run lint` runs it.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";

const path = fileURLToPath(new URL("../docs/cli.md", import.meta.url));
const { buildProgram } = await tsImport("../packages/cli/src/program.ts", import.meta.url);
const { cliReference } = await tsImport("../packages/cli/src/cli-doc.ts", import.meta.url);
const text = cliReference(buildProgram());
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {}
  if (current !== text) {
    console.error("docs/cli.md is not what the CLI definitions give: run `npm run cli-doc`");
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
