// Messages between an OnnxRunner (calling thread) and its worker thread.

import type { InferenceSession } from "onnxruntime-common";
import type { ExecutionProvider } from "./execution-provider.ts";
import type { TensorLike } from "./runner.ts";

export interface WorkerInit {
  model: { path: string } | { bytes: Uint8Array };
  executionProvider: ExecutionProvider;
  sessionOptions: InferenceSession.SessionOptions;
}

export type ToWorker = { type: "run"; id: number; feeds: Record<string, TensorLike> } | { type: "close" };

/** An error as plain data; the calling thread rebuilds the typed error from `kind`. */
export type WorkerError =
  | { kind: "provider-unavailable"; provider: string; libraries: string[]; message: string }
  | { kind: "model-load"; message: string }
  | { kind: "run"; message: string };

export type FromWorker =
  | { type: "ready"; inputNames: string[]; outputNames: string[] }
  | { type: "load-failed"; error: WorkerError }
  | { type: "result"; id: number; outputs: Record<string, TensorLike> }
  | { type: "run-failed"; id: number; error: WorkerError };
