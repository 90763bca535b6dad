// The check that keeps test code out of the container images (scripts/image-test-code.mjs, run by
// infra:check): the real Dockerfile and ignore file pass it, and it catches a Dockerfile that would ship tests.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain .mjs script without type declarations
import { contextCopies, ignoreMatcher, imageTestCode } from "../../scripts/image-test-code.mjs";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

test("no Dockerfile under infra/ copies a testing/ folder or a *.test.ts into an image", () => {
  assert.deepEqual(imageTestCode(repoRoot), []);
});

test("ignore rules follow Docker's: ** at any depth, parent folders, the last matching rule wins", () => {
  const ignored = ignoreMatcher(
    ["**/testing", "**/*.test.ts", "test/**", "!test/package.json", "docs"].join("\n"),
  );
  assert.ok(ignored("packages/storage/testing/s3rver.ts"));
  assert.ok(ignored("packages/video/src/decode.test.ts"));
  assert.ok(ignored("test/support/roles.ts"));
  assert.ok(ignored("docs/architecture.md"));
  assert.ok(!ignored("test/package.json"));
  assert.ok(!ignored("packages/storage/src/s3-sink.ts"));
  assert.ok(!ignored("packages/storage/src/testing-notes.ts"));
});

test("COPY sources are read from the context unless --from names a stage", () => {
  const copies = contextCopies(
    ["COPY --from=deps /app/ ./", "COPY --chown=node:node packages/ packages/", 'COPY ["bin/", "bin/"]'].join(
      "\n",
    ),
  );
  assert.deepEqual(
    copies.map((c: { sources: string[] }) => c.sources),
    [["packages"], ["bin"]],
  );
});

test("a Dockerfile whose ignore file lets testing/ through is reported, file by file", () => {
  const root = mkdtempSync(join(tmpdir(), "vdet-image-check-"));
  try {
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write(
      "infra/docker/Dockerfile",
      "FROM node:20 AS app\nCOPY packages/ packages/\nCOPY --from=app /x /y\n",
    );
    write("infra/docker/Dockerfile.dockerignore", "**/*.test.ts\n");
    const files = ["packages/a/src/a.ts", "packages/a/src/a.test.ts", "packages/a/testing/fake.ts"];
    assert.deepEqual(imageTestCode(root, files), [
      "infra/docker/Dockerfile: packages/a/testing/fake.ts (COPY packages/ packages/)",
    ]);
    write("infra/docker/Dockerfile.dockerignore", "**/*.test.ts\n**/testing\n");
    assert.deepEqual(imageTestCode(root, files), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
