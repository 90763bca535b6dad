// A ModelRunner backed by onnxruntime-node. `session.run` is synchronous native code that holds its thread
// for the whole inference, so each runner owns one worker thread with the session; the caller's event loop
// only posts feeds and receives results, both as transferred buffers (no copies).

import { Worker } from "node:worker_threads";
import { InvariantError } from "@vdet/errors";
import {
  ExecutionProviderUnavailableError,
  ModelRunError,
  RunnerClosedError,
  SessionLoadError,
} from "./errors.ts";
import { parseExecutionProvider, type SessionTuning, sessionOptionsFor } from "./execution-provider.ts";
import type { ModelRunner, TensorLike } from "./runner.ts";
import { checkTensor, forTransfer } from "./tensor.ts";
import type { FromWorker, ToWorker, WorkerError, WorkerInit } from "./worker-protocol.ts";

export interface OnnxRunnerOptions extends SessionTuning {
  /** "cpu", "cuda", "cuda:<device>", "tensorrt" or "tensorrt:<device>". */
  executionProvider: string;
}

const WORKER_ENTRY = new URL("./onnx-worker.mjs", import.meta.url);

/** Loads a model (ONNX bytes or a file path) into a session on its own worker thread. */
export async function createOnnxRunner(
  model: Uint8Array | string,
  options: OnnxRunnerOptions,
): Promise<ModelRunner> {
  const executionProvider = parseExecutionProvider(options.executionProvider);
  const init: WorkerInit = {
    model: typeof model === "string" ? { path: model } : { bytes: model },
    executionProvider,
    sessionOptions: sessionOptionsFor(executionProvider, options),
  };
  // execArgv: [] keeps the caller's flags (--test, --import …) out; the entry registers its own loader.
  const worker = new Worker(WORKER_ENTRY, { workerData: init, execArgv: [] });
  const first = await new Promise<FromWorker>((resolve, reject) => {
    const onError = (error: Error) =>
      reject(new SessionLoadError(`the model runner's worker failed to start: ${error.message}`));
    const onExit = (code: number) =>
      reject(
        new SessionLoadError(`the model runner's worker exited with code ${code} before the model loaded`),
      );
    worker.once("message", (message: FromWorker) => {
      worker.off("error", onError).off("exit", onExit);
      resolve(message);
    });
    worker.once("error", onError).once("exit", onExit);
  });
  if (first.type === "ready") return new OnnxRunner(worker, first.inputNames, first.outputNames);
  await worker.terminate();
  throw first.type === "load-failed"
    ? fromWorkerError(first.error)
    : new InvariantError(`unexpected ${first.type}`);
}

function fromWorkerError(error: WorkerError): Error {
  switch (error.kind) {
    case "provider-unavailable":
      return new ExecutionProviderUnavailableError(error.provider, error.libraries, error.message);
    case "model-load":
      return new SessionLoadError(`cannot load the model: ${error.message}`);
    case "run":
      return new ModelRunError(`model run failed: ${error.message}`);
  }
}

interface Pending {
  resolve: (outputs: Record<string, TensorLike>) => void;
  reject: (error: Error) => void;
}

class OnnxRunner implements ModelRunner {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closedReason: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on("message", (message: FromWorker) => this.onMessage(message));
    worker.on("error", (error) => this.fail(`its worker failed: ${error.message}`));
    this.exited = new Promise((resolve) => {
      worker.once("exit", (code) => {
        this.fail(`its worker exited (code ${code})`);
        resolve();
      });
    });
  }

  run(feeds: Record<string, TensorLike>): Promise<Record<string, TensorLike>> {
    if (this.closedReason) {
      return Promise.reject(
        new RunnerClosedError(`model runner is closed (${this.closedReason}); create a new one`),
      );
    }
    try {
      for (const [name, tensor] of Object.entries(feeds)) checkTensor(name, tensor);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.nextId++;
    const { tensors, transfer } = forTransfer(feeds);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ type: "run", id, feeds: tensors }, transfer);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.closedReason) {
        this.closedReason = "close() was called";
        // The worker handles messages in order: runs already posted finish before it releases the session.
        this.post({ type: "close" });
      }
      await this.exited;
    })();
    return this.closing;
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private onMessage(message: FromWorker): void {
    if (message.type !== "result" && message.type !== "run-failed") return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.type === "result") pending.resolve(message.outputs);
    else pending.reject(fromWorkerError(message.error));
  }

  /** The worker is gone: nothing queued can finish. */
  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const { reject } of this.pending.values()) {
      reject(new RunnerClosedError(`model run did not finish: ${reason}; create a new runner`));
    }
    this.pending.clear();
  }
}
