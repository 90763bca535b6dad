// The latency profile of a simulated accelerator (VDET_SIMULATE_PROFILE: a worker that runs no model and sleeps
// for the profile's median), as the end-to-end tests and soak benchmark give it: D0 takes `d0Ms` for one frame,
// each φ up doubles it, and batches of 2 and 4 cost 1.5× and 2.5× one frame.

export function simulatedProfile(key: string, d0Ms: number) {
  return {
    version: 1,
    key,
    measuredAt: "2026-11-28T00:00:00Z",
    rows: [0, 1, 2].flatMap((phi) =>
      [1, 2, 4].map((batch) => {
        const ms = d0Ms * 2 ** phi * (batch === 1 ? 1 : batch === 2 ? 1.5 : 2.5);
        return { phi, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
      }),
    ),
  };
}
