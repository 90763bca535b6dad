// COCO class names for the 90-logit tf_ models: class id k (1…90) is COCO category id k. Ten ids have no COCO 2017
// annotations; a trained model never predicts them with confidence, and they are named "unused-<id>" here.

import { codedError } from "@vdet/errors";
import { PROTOCOL_ERRORS } from "./error-codes.ts";

/** A class name that is not in the label map. */
export class UnknownClassError extends codedError(PROTOCOL_ERRORS.UNKNOWN_CLASS) {}

const COCO_NAMES: readonly (string | null)[] = [
  "person", // 1
  "bicycle", // 2
  "car", // 3
  "motorcycle", // 4
  "airplane", // 5
  "bus", // 6
  "train", // 7
  "truck", // 8
  "boat", // 9
  "traffic light", // 10
  "fire hydrant", // 11
  null, // 12: street sign (no COCO 2017 annotations)
  "stop sign", // 13
  "parking meter", // 14
  "bench", // 15
  "bird", // 16
  "cat", // 17
  "dog", // 18
  "horse", // 19
  "sheep", // 20
  "cow", // 21
  "elephant", // 22
  "bear", // 23
  "zebra", // 24
  "giraffe", // 25
  null, // 26: hat (no COCO 2017 annotations)
  "backpack", // 27
  "umbrella", // 28
  null, // 29: shoe (no COCO 2017 annotations)
  null, // 30: eye glasses (no COCO 2017 annotations)
  "handbag", // 31
  "tie", // 32
  "suitcase", // 33
  "frisbee", // 34
  "skis", // 35
  "snowboard", // 36
  "sports ball", // 37
  "kite", // 38
  "baseball bat", // 39
  "baseball glove", // 40
  "skateboard", // 41
  "surfboard", // 42
  "tennis racket", // 43
  "bottle", // 44
  null, // 45: plate (no COCO 2017 annotations)
  "wine glass", // 46
  "cup", // 47
  "fork", // 48
  "knife", // 49
  "spoon", // 50
  "bowl", // 51
  "banana", // 52
  "apple", // 53
  "sandwich", // 54
  "orange", // 55
  "broccoli", // 56
  "carrot", // 57
  "hot dog", // 58
  "pizza", // 59
  "donut", // 60
  "cake", // 61
  "chair", // 62
  "couch", // 63
  "potted plant", // 64
  "bed", // 65
  null, // 66: mirror (no COCO 2017 annotations)
  "dining table", // 67
  null, // 68: window (no COCO 2017 annotations)
  null, // 69: desk (no COCO 2017 annotations)
  "toilet", // 70
  null, // 71: door (no COCO 2017 annotations)
  "tv", // 72
  "laptop", // 73
  "mouse", // 74
  "remote", // 75
  "keyboard", // 76
  "cell phone", // 77
  "microwave", // 78
  "oven", // 79
  "toaster", // 80
  "sink", // 81
  "refrigerator", // 82
  null, // 83: blender (no COCO 2017 annotations)
  "book", // 84
  "clock", // 85
  "vase", // 86
  "scissors", // 87
  "teddy bear", // 88
  "hair drier", // 89
  "toothbrush", // 90
];

/** Class ids of the 90-logit COCO models (1…90). */
export const COCO_CLASS_COUNT = COCO_NAMES.length;

/** Name of a 1-based COCO category id, e.g. 1 → "person"; ids without annotations give "unused-<id>". */
export function cocoLabel(classId: number): string {
  const name = COCO_NAMES[classId - 1];
  if (name === undefined) return `class-${classId}`;
  return name ?? `unused-${classId}`;
}

/** The 80 COCO 2017 category ids that real models predict. */
export const COCO_USED_IDS: readonly number[] = COCO_NAMES.flatMap((name, i) => (name ? [i + 1] : []));

/** Looks up class ids by name (case-insensitive), for class filters such as "person,car". */
export function cocoIdsByName(names: readonly string[]): number[] {
  return names.map((raw) => {
    const wanted = raw.trim().toLowerCase();
    const index = COCO_NAMES.indexOf(wanted);
    if (index < 0) throw new UnknownClassError(`unknown COCO class "${raw}"`);
    return index + 1;
  });
}
