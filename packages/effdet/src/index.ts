// @vdet/effdet: EfficientDet-D0…D7x built as ONNX from the compound-scaling rules, plus post-processing.
export { anchorCount, generateAnchors } from "./anchors.ts";
export {
  type BackbonePlan,
  type BlockKind,
  type BlockPlan,
  planBackbone,
  roundChannels,
} from "./backbone-plan.ts";
export { bifpnNodes, buildBifpn, type FusionNode } from "./bifpn.ts";
export {
  type BuildOptions,
  type BuiltGraph,
  build,
  constructGraph,
  type ModelInfo,
  OPSET,
  type Variant,
} from "./build.ts";
export { type HeadDrift, type PairRun, runPair } from "./compare.ts";
export {
  ANCHORS_PER_LOCATION,
  ASPECT_RATIOS,
  type BackboneScaling,
  BN_EPS,
  COCO_NUM_CLASSES,
  type EffDetConfig,
  FUSION_EPS,
  type FusionKind,
  getConfig,
  levelSizes,
  MAX_CANDIDATES,
  MAX_DETECTIONS,
  NMS_IOU_THRESHOLD,
  NUM_SCALES,
} from "./config.ts";
export { Detector } from "./detector.ts";
export { BuildOptionsError, DetectorInputError, EFFDET_ERRORS } from "./errors.ts";
export {
  modelContentSha256,
  NotAnOnnxModelError,
  type OnnxFileInfo,
  readOnnxInfo,
  type TensorSpec,
  withMetadata,
} from "./model-info.ts";
export { type CandidateBatch, type PostprocessOptions, postprocess } from "./postprocess.ts";
export { FILL_COLOR, IMAGENET_MEAN, IMAGENET_STD } from "./preprocess.ts";
export { fillUniform, fnv1a32, mulberry32 } from "./prng.ts";
export {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  DEFAULT_CALIBRATION_FRAMES,
  DEFAULT_CALIBRATION_METHOD,
  DEFAULT_PERCENTILE,
  DEFAULT_RULES,
  defaultWeightBits,
  exposeTensors,
  frameFeed,
  type QuantizedModel,
  type QuantizeOptions,
  type QuantizeReport,
  type QuantizeRules,
  quantize,
} from "./quantize.ts";
export { SeededWeights, StateDictWeights, type WeightSource, WeightsMismatchError } from "./weights.ts";
