// Execution provider selection: parse "cpu" | "cuda[:id]" | "tensorrt[:id]", map it and the thread settings to
// onnxruntime session options, and check that the provider's libraries are part of the installed build.
// Everything here is pure (the install is passed in) so it can be tested on a CPU-only host.

import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-common";
import {
  ExecutionProviderUnavailableError,
  GPU_INSTALL_HINT,
  InvalidExecutionProviderError,
  InvalidRunnerOptionError,
} from "./errors.ts";

export type ExecutionProvider =
  | { name: "cpu" }
  | { name: "cuda"; deviceId: number }
  | { name: "tensorrt"; deviceId: number };

export type GraphOptimization = "all" | "extended" | "basic" | "disabled";

export interface SessionTuning {
  /** Threads used inside one operator (default: onnxruntime's choice, the physical core count). */
  intraOpThreads?: number;
  /** Threads running independent operators in parallel; > 1 switches to the parallel execution mode. */
  interOpThreads?: number;
  graphOptimization?: GraphOptimization;
  /**
   * Whether idle intra-op threads spin waiting for work (onnxruntime's default, true). Spinning buys latency on an
   * idle machine and costs throughput where the cores are oversubscribed (docs/model.md, "int8": speed).
   */
  intraOpSpinning?: boolean;
}

const GRAPH_OPTIMIZATIONS: readonly GraphOptimization[] = ["all", "extended", "basic", "disabled"];

export function parseExecutionProvider(spec: string): ExecutionProvider {
  const match = /^(cpu|cuda|tensorrt)(?::(\d+))?$/.exec(spec.trim().toLowerCase());
  if (!match) throw new InvalidExecutionProviderError(spec);
  const [, name, device] = match;
  if (name === "cpu") {
    if (device !== undefined) throw new InvalidExecutionProviderError(spec, "cpu takes no device index");
    return { name: "cpu" };
  }
  const deviceId = device === undefined ? 0 : Number(device);
  if (!Number.isSafeInteger(deviceId))
    throw new InvalidExecutionProviderError(spec, "device index too large");
  return { name: name as "cuda" | "tensorrt", deviceId };
}

export function formatExecutionProvider(ep: ExecutionProvider): string {
  return ep.name === "cpu" ? "cpu" : `${ep.name}:${ep.deviceId}`;
}

/**
 * Session options for a provider. GPU providers list their fallbacks explicitly: TensorRT hands the nodes it
 * cannot compile to CUDA; onnxruntime always appends the CPU provider for whatever is left.
 */
export function sessionOptionsFor(
  ep: ExecutionProvider,
  tuning: SessionTuning = {},
): InferenceSession.SessionOptions {
  if (tuning.graphOptimization !== undefined && !GRAPH_OPTIMIZATIONS.includes(tuning.graphOptimization)) {
    throw new InvalidRunnerOptionError(
      `graph optimisation "${tuning.graphOptimization}" is not one of ${GRAPH_OPTIMIZATIONS.join(", ")}`,
    );
  }
  const options: InferenceSession.SessionOptions = {
    executionProviders: executionProviderList(ep),
    graphOptimizationLevel: tuning.graphOptimization ?? "all",
  };
  if (tuning.intraOpSpinning === false) options.extra = { session: { intra_op: { allow_spinning: "0" } } };
  // Unset, onnxruntime counts physical cores, which on a 2-vCPU VM can be 1 and halve throughput; use every
  // core this process may run on instead (set intraOpThreads when several runners share a machine).
  options.intraOpNumThreads = threadCount("intraOpThreads", tuning.intraOpThreads ?? availableParallelism());
  if (tuning.interOpThreads !== undefined) {
    options.interOpNumThreads = threadCount("interOpThreads", tuning.interOpThreads);
    if (tuning.interOpThreads > 1) options.executionMode = "parallel";
  }
  return options;
}

function executionProviderList(ep: ExecutionProvider): InferenceSession.ExecutionProviderConfig[] {
  switch (ep.name) {
    case "cpu":
      return ["cpu"];
    case "cuda":
      return [{ name: "cuda", deviceId: ep.deviceId }];
    case "tensorrt":
      return [
        { name: "tensorrt", deviceId: ep.deviceId },
        { name: "cuda", deviceId: ep.deviceId },
      ];
  }
}

function threadCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 1024) {
    throw new InvalidRunnerOptionError(`${name} must be an integer from 1 to 1024, got ${value}`);
  }
  return value;
}

/** What the installed onnxruntime-node offers: its binding folder and the providers the binding reports. */
export interface OrtInstall {
  platform: NodeJS.Platform;
  /** Folder holding onnxruntime_binding.node and the shared libraries loaded next to it. */
  bindingDir: string;
  /** From `listSupportedBackends()`: `bundled: false` means the provider library ships separately. */
  backends: readonly { name: string; bundled: boolean }[];
  /** Whether a file exists; injected so the check stays pure. */
  exists: (path: string) => boolean;
}

/** Provider libraries a GPU provider needs next to the binding (onnxruntime loads them on session creation). */
export function providerLibraries(ep: ExecutionProvider, platform: NodeJS.Platform): string[] {
  if (ep.name === "cpu") return [];
  const lib = (name: string) =>
    platform === "win32" ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  const names = ep.name === "tensorrt" ? ["shared", "tensorrt", "cuda"] : ["shared", "cuda"];
  return names.map(lib);
}

/** Throws ExecutionProviderUnavailableError when the provider cannot work with this install. */
export function assertExecutionProviderInstalled(ep: ExecutionProvider, install: OrtInstall): void {
  if (ep.name === "cpu") return;
  const label = formatExecutionProvider(ep);
  const providers = ep.name === "tensorrt" ? ["tensorrt", "cuda"] : ["cuda"];
  const unsupported = providers.filter((p) => !install.backends.some((b) => b.name === p));
  const libraries = providerLibraries(ep, install.platform);
  if (unsupported.length > 0) {
    throw new ExecutionProviderUnavailableError(
      label,
      libraries,
      `execution provider "${label}" is not supported by onnxruntime-node on ${install.platform}/${process.arch} ` +
        `(its binding offers ${install.backends.map((b) => b.name).join(", ")}); use a Linux or Windows x64 ` +
        `host and ${GPU_INSTALL_HINT}`,
    );
  }
  const missing = libraries.filter((name) => !install.exists(join(install.bindingDir, name)));
  if (missing.length > 0) {
    throw new ExecutionProviderUnavailableError(
      label,
      missing,
      `execution provider "${label}" is not available in this onnxruntime-node install: ` +
        `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing from ${install.bindingDir}; ` +
        GPU_INSTALL_HINT,
    );
  }
}
