// npm 11 runs a dependency's install script only when the root package.json's `allowScripts` approves it (and
// skips the rest with a warning). Every dependency with an install script must be approved or denied there, and
// every approval carries, in "//allowScripts", the version it was reviewed at: a lockfile that moves such a
// package to another version fails here until someone reads the new script.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const root = new URL("../", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  allowScripts: Record<string, boolean>;
  "//allowScripts": Record<string, string>;
};
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; link?: boolean }>;
};

/** name → versions of every locked package that has an install script. */
function lockedInstallScripts(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!entry.hasInstallScript || entry.link || !path.includes("node_modules/")) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    found.set(name, (found.get(name) ?? new Set()).add(entry.version ?? "?"));
  }
  return found;
}

test("every dependency with an install script is approved or denied in allowScripts", () => {
  const unreviewed = [...lockedInstallScripts().keys()].filter((name) => !(name in manifest.allowScripts));
  assert.deepEqual(
    unreviewed,
    [],
    "run `npm install-scripts ls`, review the scripts, then approve or deny them",
  );
});

test("allowScripts names no package that has no install script any more", () => {
  const locked = lockedInstallScripts();
  assert.deepEqual(
    Object.keys(manifest.allowScripts).filter((name) => !locked.has(name)),
    [],
  );
});

test("every approval and denial records the version it was reviewed at, and that is the locked version", () => {
  const locked = lockedInstallScripts();
  for (const name of Object.keys(manifest.allowScripts)) {
    const note = manifest["//allowScripts"][name];
    assert.ok(note, `"//allowScripts" has no review note for ${name}`);
    const reviewed = /^(\d+\.\d+\.\d+\S*) /.exec(note)?.[1];
    assert.deepEqual(
      [...(locked.get(name) ?? [])],
      [reviewed],
      `${name}: the lockfile holds ${[...(locked.get(name) ?? [])].join(", ")} but the script was reviewed at ${reviewed}; read the new install script and update "//allowScripts"`,
    );
  }
});

test("onnxruntime-node's install script is approved, so the GPU install line works on npm 11", () => {
  assert.equal(manifest.allowScripts["onnxruntime-node"], true);
});
