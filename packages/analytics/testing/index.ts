// Test support for this and other packages' tests (import from "@vdet/analytics/testing"): zones files with a
// known problem. Not for production code.

/** A zones file whose one zone, "bow", is a bow tie: two of its edges cross, so it is not a simple polygon. */
export const BOW_TIE_ZONES = {
  zones: [
    {
      name: "bow",
      polygon: [
        [0, 0],
        [10, 10],
        [10, 0],
        [0, 10],
      ],
    },
  ],
};
