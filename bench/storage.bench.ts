// Storage benchmark against s3rver (in-process S3 stand-in, so these are client+server figures on one host, not
// S3's): our S3Sink.upload (lib-storage multipart) against one plain PutObject of the same bytes, openS3Input
// (resumable stream) against the raw GetObject body, and LocalDirSink.put (temp file, fsync, rename) against a
// plain writeFile. Each baseline is measured in the same run. `--mib N` sets the object size (default 32).
// Last stdout line: one JSON object with the figures.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { LocalDirSink, openS3Input, S3Sink } from "@vdet/storage";
import { startTestS3 } from "@vdet/storage/testing";

const mibArg = process.argv.indexOf("--mib");
const MIB = mibArg === -1 ? 32 : Number(process.argv[mibArg + 1]);
const PASSES = 3;

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).byteLength;
  return bytes;
}

/** Median MiB/s of `passes` runs of `run`. */
async function mibPerSecond(run: (pass: number) => Promise<unknown>): Promise<number> {
  const rates: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const started = performance.now();
    await run(pass);
    rates.push(MIB / ((performance.now() - started) / 1000));
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[Math.floor(PASSES / 2)] * 10) / 10;
}

async function main(): Promise<void> {
  const payload = randomBytes(MIB * 1024 * 1024);
  const s3 = await startTestS3();
  const scratch = await mkdtemp(join(tmpdir(), "vdet-bench-storage-"));
  try {
    const client = s3.client();
    const bucket = await s3.createBucket();
    const sink = new S3Sink(client, { kind: "s3", bucket, prefix: "bench/" });

    const putObject = await mibPerSecond((pass) =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: `bench/plain-${pass}.bin`, Body: payload })),
    );
    const multipartUpload = await mibPerSecond((pass) =>
      sink.upload(`multipart-${pass}.bin`, Readable.from([payload])),
    );
    const rawGet = await mibPerSecond(async () => {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "bench/plain-0.bin" }));
      await drain(response.Body as Readable);
    });
    const resumableGet = await mibPerSecond(() =>
      drain(openS3Input(`s3://${bucket}/bench/plain-0.bin`, client)),
    );

    const local = await LocalDirSink.open(join(scratch, "sink"));
    const writeFileBaseline = await mibPerSecond((pass) =>
      writeFile(join(scratch, `plain-${pass}.bin`), payload),
    );
    const localPut = await mibPerSecond((pass) => local.put(`put-${pass}.bin`, payload));

    const result = {
      bench: "storage",
      objectMiB: MIB,
      passes: PASSES,
      s3rver: {
        putObjectMiBps: putObject,
        multipartUploadMiBps: multipartUpload,
        multipartVsPutObject: Math.round((multipartUpload / putObject) * 100) / 100,
        rawGetMiBps: rawGet,
        resumableGetMiBps: resumableGet,
        resumableVsRawGet: Math.round((resumableGet / rawGet) * 100) / 100,
      },
      local: {
        writeFileMiBps: writeFileBaseline,
        atomicPutMiBps: localPut,
        atomicVsWriteFile: Math.round((localPut / writeFileBaseline) * 100) / 100,
      },
    };
    console.log(JSON.stringify(result));
  } finally {
    await s3.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

main();
