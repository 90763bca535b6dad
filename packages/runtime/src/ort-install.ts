// Facts about the installed onnxruntime-node that provider selection needs: where its binding lives, which
// providers the binding reports, and why a provider library fails to load (the dynamic loader's own words).
// onnxruntime-node (and its native library) is loaded only when asked, so that importing @vdet/runtime costs a
// process that never creates a session (the api) nothing.

import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { ExecutionProviderUnavailableError, GPU_INSTALL_HINT, OnnxRuntimeMissingError } from "./errors.ts";
import {
  type ExecutionProvider,
  formatExecutionProvider,
  type OrtInstall,
  providerLibraries,
} from "./execution-provider.ts";

export async function describeOrtInstall(): Promise<OrtInstall> {
  const { listSupportedBackends } = await import("onnxruntime-node");
  return {
    platform: process.platform,
    bindingDir: findBindingDir(),
    backends: listSupportedBackends(),
    exists: existsSync,
  };
}

/** The installed onnxruntime-node's version (its package.json). */
export function ortVersion(): string {
  return (createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version;
}

/** onnxruntime-node loads `bin/napi-v<N>/<platform>/<arch>/onnxruntime_binding.node`. */
function findBindingDir(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
  const bin = join(packageDir, "bin");
  const candidates = readdirSync(bin)
    .filter((d) => d.startsWith("napi-v"))
    .map((d) => join(bin, d, process.platform, process.arch))
    .filter((d) => existsSync(join(d, "onnxruntime_binding.node")));
  if (candidates.length === 0) {
    throw new OnnxRuntimeMissingError(
      `onnxruntime-node has no binding for ${process.platform}/${process.arch} under ${bin}`,
    );
  }
  return candidates[0];
}

/** The session failed to append a GPU provider although its libraries are present: a dependency is missing. */
export function isProviderLoadFailure(message: string): boolean {
  return /Failed to load (shared )?library|cannot open shared object file/i.test(message);
}

/**
 * Asks the dynamic loader why a library does not load: returns its error ("libcudnn.so.9: cannot open shared
 * object file …"), or undefined when the library loads.
 */
export function libraryLoadError(path: string): string | undefined {
  try {
    process.dlopen({ exports: {} }, path);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    // Loaded, but is no Node addon: the library and its dependencies are fine.
    if (/did not self-register|Module did not/i.test(message)) return undefined;
    return message;
  }
}

/** Turns onnxruntime's "Failed to load shared library" into an error naming the library that fails and why. */
export function providerLoadError(
  ep: ExecutionProvider,
  install: OrtInstall,
  ortMessage: string,
  loadError: (path: string) => string | undefined = libraryLoadError,
): ExecutionProviderUnavailableError {
  const label = formatExecutionProvider(ep);
  const failures: { library: string; reason: string }[] = [];
  for (const library of providerLibraries(ep, install.platform)) {
    const reason = loadError(join(install.bindingDir, library));
    if (reason !== undefined) failures.push({ library, reason });
  }
  const detail =
    failures.length > 0
      ? failures.map((f) => `${f.library}: ${f.reason.replace(`${install.bindingDir}/`, "")}`).join("; ")
      : "the loader gives no reason";
  return new ExecutionProviderUnavailableError(
    label,
    failures.map((f) => basename(f.library)),
    `execution provider "${label}" failed to load (${ortMessage.trim()}): ${detail}. Make sure CUDA 12 and ` +
      `cuDNN 9 libraries are on the loader path (LD_LIBRARY_PATH), or ${GPU_INSTALL_HINT}`,
  );
}
