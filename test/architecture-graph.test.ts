// The generated package section of docs/architecture.md (scripts/architecture-graph.mjs): it matches the
// manifests today, and the checks it runs in `npm run lint` catch what they are for.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  brokenLinks,
  layoutProblems,
  readWorkspaces,
  renderSection,
  updateDoc,
  // @ts-expect-error: a plain .mjs script without type declarations
} from "../scripts/architecture-graph.mjs";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const docPath = `${repoRoot}docs/architecture.md`;

interface Workspace {
  name: string;
  dir: string;
  layer: string;
  description: string;
  dependencies: string[];
}
const ws = (name: string, layer: string, dependencies: string[] = []): Workspace => ({
  name: `@vdet/${name}`,
  dir: `${layer}/${name}`,
  layer,
  description: name,
  dependencies: dependencies.map((d) => `@vdet/${d}`),
});

test("docs/architecture.md holds the graph of today's manifests, and its links resolve", () => {
  const workspaces: Workspace[] = readWorkspaces(repoRoot);
  const doc = readFileSync(docPath, "utf8");
  assert.equal(updateDoc(doc, renderSection(workspaces)), doc, "run node scripts/architecture-graph.mjs");
  assert.deepEqual(layoutProblems(workspaces), []);
  assert.deepEqual(brokenLinks(docPath, doc), []);
  for (const w of workspaces) assert.ok(doc.includes(`\`${w.name}\``), `${w.name} is in the table`);
});

test("a new dependency changes the section; a cycle and a library on a service are reported", () => {
  const base = [
    ws("protocol", "packages"),
    ws("jobs", "packages", ["protocol"]),
    ws("api", "services", ["jobs"]),
  ];
  const section = renderSection(base);
  assert.match(section, /jobs --> protocol/);
  assert.match(section, /api --> jobs/);
  assert.notEqual(renderSection([...base, ws("errors", "packages")]), section);
  assert.deepEqual(layoutProblems(base), []);
  const cyclic = [ws("a", "packages", ["b"]), ws("b", "packages", ["a"])];
  assert.match(layoutProblems(cyclic).join("\n"), /dependency cycle: @vdet\/a → @vdet\/b → @vdet\/a/);
  const onService = [ws("lib", "packages", ["svc"]), ws("svc", "services")];
  assert.match(layoutProblems(onService).join("\n"), /@vdet\/lib .* depends on the service @vdet\/svc/);
});

test("links to missing files are reported, web links and anchors are not", () => {
  const text = "[a](phi-policy.md) [b](no-such-file.md) [c](https://example.com/x.md) [d](#as-built)";
  assert.deepEqual(brokenLinks(docPath, text), ["no-such-file.md"]);
});
