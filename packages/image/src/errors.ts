import { defineErrorCodes, VdetError } from "@vdet/errors";

export const IMAGE_ERRORS = defineErrorCodes("image", {
  IMAGE_DECODE_FAILED: {
    retryable: false,
    description: "the bytes are not a PNG or JPEG image, or it is corrupt",
  },
});

/** The bytes are not a PNG or JPEG image, or the image is corrupt. */
export class ImageDecodeError extends VdetError {
  override readonly name = "ImageDecodeError";
  constructor(
    readonly kind: "not-an-image" | "corrupt",
    message: string,
  ) {
    super(IMAGE_ERRORS.IMAGE_DECODE_FAILED, message);
  }
}
