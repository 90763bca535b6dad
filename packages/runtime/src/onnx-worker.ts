// The worker thread that owns one onnxruntime session: it creates the session, then runs requests one at a
// time in arrival order, so `session.run` blocks this thread instead of the caller's event loop.

import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { InvariantError } from "@vdet/errors";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { ExecutionProviderUnavailableError, ModelRunError } from "./errors.ts";
import { assertExecutionProviderInstalled } from "./execution-provider.ts";
import { describeOrtInstall, isProviderLoadFailure, providerLoadError } from "./ort-install.ts";
import { TENSOR_TYPES, type TensorLike, type TensorType } from "./runner.ts";
import { forTransfer } from "./tensor.ts";
import type { FromWorker, ToWorker, WorkerError, WorkerInit } from "./worker-protocol.ts";

function post(port: MessagePort, message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function openSession(init: WorkerInit): Promise<InferenceSession> {
  const ep = init.executionProvider;
  const install = ep.name === "cpu" ? undefined : await describeOrtInstall();
  if (install) assertExecutionProviderInstalled(ep, install);
  const model = "path" in init.model ? init.model.path : init.model.bytes;
  try {
    // The overloads of create() need the argument's type fixed.
    return typeof model === "string"
      ? await InferenceSession.create(model, init.sessionOptions)
      : await InferenceSession.create(model, init.sessionOptions);
  } catch (error) {
    const message = (error as Error).message;
    if (install && isProviderLoadFailure(message)) throw providerLoadError(ep, install, message);
    throw error;
  }
}

function toWorkerError(error: unknown, kind: "model-load" | "run"): WorkerError {
  if (error instanceof ExecutionProviderUnavailableError) {
    return {
      kind: "provider-unavailable",
      provider: error.provider,
      libraries: [...error.libraries],
      message: error.message,
    };
  }
  return { kind, message: error instanceof Error ? error.message : String(error) };
}

function toTensorLike(name: string, tensor: Tensor): TensorLike {
  if (!TENSOR_TYPES.includes(tensor.type as TensorType)) {
    throw new ModelRunError(
      `output "${name}" has element type ${tensor.type}; the runner returns ${TENSOR_TYPES.join(", ")} ` +
        "tensors: add a Cast to the model",
    );
  }
  return { type: tensor.type, dims: [...tensor.dims], data: tensor.data } as TensorLike;
}

async function run(
  session: InferenceSession,
  port: MessagePort,
  id: number,
  feeds: Record<string, TensorLike>,
) {
  try {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new Tensor(t.type, t.data, t.dims);
    const results = await session.run(ortFeeds);
    const outputs: Record<string, TensorLike> = {};
    for (const [name, value] of Object.entries(results)) outputs[name] = toTensorLike(name, value as Tensor);
    const { tensors, transfer } = forTransfer(outputs);
    post(port, { type: "result", id, outputs: tensors }, transfer);
  } catch (error) {
    post(port, { type: "run-failed", id, error: toWorkerError(error, "run") });
  }
}

async function main(port: MessagePort, init: WorkerInit): Promise<void> {
  let session: InferenceSession;
  try {
    session = await openSession(init);
  } catch (error) {
    post(port, { type: "load-failed", error: toWorkerError(error, "model-load") });
    port.close();
    return;
  }
  post(port, { type: "ready", inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
  let queue = Promise.resolve();
  port.on("message", (message: ToWorker) => {
    queue = queue.then(async () => {
      if (message.type === "run") {
        await run(session, port, message.id, message.feeds);
      } else {
        await session.release();
        port.close(); // nothing else keeps this thread alive: it exits
      }
    });
  });
}

if (!parentPort) throw new InvariantError("onnx-worker.ts runs as a worker thread; use createOnnxRunner()");
await main(parentPort, workerData as WorkerInit);
