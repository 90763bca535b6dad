// @vdet/image: PNG/JPEG bytes to RGB frames (format recognised by content), and RGB frames to PNG or JPEG.
export { decodeImage } from "./decode.ts";
export { encodePng } from "./encode.ts";
export { ImageDecodeError } from "./errors.ts";
export { detectImageFormat, type ImageFormat } from "./format.ts";
export { DEFAULT_JPEG_QUALITY, encodeJpeg } from "./jpeg.ts";
