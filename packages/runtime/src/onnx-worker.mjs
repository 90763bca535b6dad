// Worker entry point. A worker cannot start from a .ts file on its own: register tsx's loader in this thread,
// then load the TypeScript worker module.
import { register } from "tsx/esm/api";

register();
await import(new URL("./onnx-worker.ts", import.meta.url).href);
