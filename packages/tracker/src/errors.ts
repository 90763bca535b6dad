// The tracker's errors: invalid options, detections or saved state, and assignment problems without a solution.

import { codedError, defineErrorCodes } from "@vdet/errors";

export const TRACKER_ERRORS = defineErrorCodes("tracker", {
  TRACKER_STATE_INVALID: { retryable: false, description: "a saved tracker state (checkpoint) is malformed" },
  TRACKER_OPTIONS_INVALID: {
    retryable: false,
    description: "a tracker option is out of range; the message names it",
  },
  DETECTION_INPUT_INVALID: { retryable: false, description: "detections given to the tracker are malformed" },
  ASSIGNMENT_FAILED: {
    retryable: false,
    description: "an assignment problem has no finite solution or holds NaN",
  },
});

/** A saved state that cannot be restored; the message names the field. */
export class TrackerStateError extends codedError(TRACKER_ERRORS.TRACKER_STATE_INVALID) {}

/** Thrown for an invalid option value; the message names the option. */
export class TrackerOptionsError extends codedError(TRACKER_ERRORS.TRACKER_OPTIONS_INVALID) {}

export class DetectionInputError extends codedError(TRACKER_ERRORS.DETECTION_INPUT_INVALID) {}

/** Thrown when an assignment problem has no finite solution or contains NaN. */
export class AssignmentError extends codedError(TRACKER_ERRORS.ASSIGNMENT_FAILED) {}
