// Inference metrics without touching the worker: a ModelProvider whose detectors time every model run and
// report its φ, batch size and compute time (vdet_inference_seconds, vdet_batch_size, frames inferred, φ chosen).

import type { Detector } from "@vdet/effdet";
import { metrics } from "@vdet/metrics";
import { type PhiValue, parsePhi } from "@vdet/protocol";
import type { ModelProvider } from "./models.ts";

export function withModelMetrics(provider: ModelProvider): ModelProvider {
  const wrapped = new Map<Detector, Detector>();
  const instrument = (phi: PhiValue, detector: Detector): Detector => {
    let timed = wrapped.get(detector);
    if (!timed) {
      const inner = detector;
      timed = Object.create(inner) as Detector;
      timed.detect = async (frames, options) => {
        const started = performance.now();
        try {
          const result = await inner.detect(frames, options);
          metrics.observeBatch({ phi, batchSize: frames.length, computeMs: performance.now() - started });
          metrics.phiChosen(phi, frames.length);
          return result;
        } catch (error) {
          metrics.error("worker", "inference");
          throw error;
        }
      };
      wrapped.set(detector, timed);
    }
    return timed;
  };
  return {
    detector: async (phiValue) => {
      const phi = parsePhi(phiValue);
      return instrument(phi, await provider.detector(phi));
    },
    hasWeights: (phi) => provider.hasWeights(phi),
    precision: (phi) => provider.precision?.(phi) ?? "fp32",
    agreement: async (phi) => provider.agreement?.(phi),
    modelHash: (phi) => provider.modelHash(phi),
    close: () => provider.close(),
  };
}
