/** The bytes are not a PNG or JPEG image, or the image is corrupt. */
export class ImageDecodeError extends Error {
  override readonly name = "ImageDecodeError";
  constructor(
    readonly kind: "not-an-image" | "corrupt",
    message: string,
  ) {
    super(message);
  }
}
