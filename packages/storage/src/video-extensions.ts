// File extensions taken for videos (archive listings, the upload Lambda). Its own module with no imports, so
// code that needs only this list (a Lambda bundle) does not pull in the S3 client.
export const VIDEO_EXTENSIONS: readonly string[] = [
  ".mp4",
  ".m4v",
  ".mov",
  ".mkv",
  ".webm",
  ".avi",
  ".wmv",
  ".flv",
  ".mpg",
  ".mpeg",
  ".ts",
  ".mts",
  ".m2ts",
  ".3gp",
];
