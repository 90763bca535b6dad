// @vdet/effdet: EfficientDet-D0…D7x built as ONNX from the compound-scaling rules, plus post-processing.
export * from "./anchors.ts";
export * from "./backbone-plan.ts";
export * from "./bifpn.ts";
export * from "./build.ts";
export * from "./config.ts";
export * from "./detector.ts";
export { BuildOptionsError, DetectorInputError, EFFDET_ERRORS } from "./errors.ts";
export * from "./model-info.ts";
export * from "./postprocess.ts";
export { FILL_COLOR, IMAGENET_MEAN, IMAGENET_STD } from "./preprocess.ts";
export { fillUniform, fnv1a32, mulberry32 } from "./prng.ts";
export { SeededWeights, StateDictWeights, type WeightSource, WeightsMismatchError } from "./weights.ts";
