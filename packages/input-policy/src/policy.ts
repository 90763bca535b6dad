// The input policy: what a job may read, decided in one place for the api (at submission), the producer (before
// it opens an input) and the proxy ffmpeg reaches the network through (at every connection, redirect and
// playlist segment).
//
// - s3:// inputs: the bucket must be one of `inputBuckets` (empty: any bucket the credentials can read).
// - local paths: only with `allowFileInputs`; with `inputRoots`, the file's real path (links resolved) must lie
//   inside the real path of a root.
// - http(s):// and rtsp(s):// inputs: every address the host stands for (a literal in any numeric form, or what
//   a DNS name resolves to when the connection is made) must pass the address policy (address.ts).

import { lookup as dnsLookup } from "node:dns/promises";
import { realpath } from "node:fs/promises";
import { isAbsolute, sep } from "node:path";
import { type AllowedRange, addressProblem, type IpAddress, parseAddress, parseRanges } from "./address.ts";
import { InputNotAllowedError } from "./errors.ts";

/** A resolved address, as `dns.lookup(name, { all: true })` gives them. */
export interface LookupAddress {
  address: string;
  family: number;
}

/** Resolves a name to all its addresses (default: the system resolver, dns.lookup with all: true). */
export type Lookup = (hostname: string) => Promise<LookupAddress[]>;

export interface InputPolicyOptions {
  /** Local paths are accepted at all (VDET_ALLOW_FILE_INPUTS). */
  allowFileInputs?: boolean;
  /** Local inputs must lie inside one of these directories, links resolved (VDET_INPUT_ROOTS; empty: anywhere). */
  inputRoots?: readonly string[];
  /** s3:// inputs must be in one of these buckets (VDET_INPUT_BUCKETS; empty: any). */
  inputBuckets?: readonly string[];
  /**
   * Addresses or CIDR ranges network inputs may reach besides global unicast (VDET_INPUT_ALLOW_ADDRESSES), e.g.
   * `127.0.0.1/32` for a single-machine setup. Nothing else that is loopback, private, link-local … passes.
   */
  allowAddresses?: readonly string[];
  /** The resolver (tests pass a stub that maps names to loopback addresses). */
  lookup?: Lookup;
}

/** The kind of input a spec names, by its scheme (the protocol package refuses every other scheme). */
export type InputScheme = "file" | "s3" | "http" | "rtsp";

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

export function inputScheme(input: string): InputScheme | null {
  const scheme = input.match(SCHEME)?.[1]?.toLowerCase();
  if (scheme === undefined) return "file";
  if (scheme === "s3") return "s3";
  if (scheme === "http" || scheme === "https") return "http";
  if (scheme === "rtsp" || scheme === "rtsps") return "rtsp";
  return null;
}

/** A resolver that gives no answer in this long counts as "does not resolve". */
const LOOKUP_TIMEOUT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`no answer for ${name} within ${ms} ms`), { code: "ETIMEOUT" })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const systemLookup: Lookup = async (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class InputPolicy {
  readonly allowFileInputs: boolean;
  readonly inputRoots: readonly string[];
  readonly inputBuckets: readonly string[];
  private readonly allowed: AllowedRange[];
  private readonly lookupAll: Lookup;

  constructor(options: InputPolicyOptions = {}) {
    this.allowFileInputs = options.allowFileInputs ?? false;
    this.inputRoots = options.inputRoots ?? [];
    for (const root of this.inputRoots) {
      if (!isAbsolute(root)) throw new Error(`input root "${root}" must be an absolute directory`);
    }
    this.inputBuckets = options.inputBuckets ?? [];
    this.allowed = parseRanges(options.allowAddresses ?? []);
    this.lookupAll = options.lookup ?? systemLookup;
  }

  /** Why this address may not be reached, or null. */
  addressProblem(address: IpAddress): string | null {
    return addressProblem(address, this.allowed);
  }

  /**
   * The address to connect to for `host`: a literal is checked as it is; a name is resolved now and every
   * address it resolves to must pass (one bad answer refuses the name: a resolver that mixes a public and an
   * internal address is not trusted). The caller connects to the returned address only (pinned), never to the
   * name again.
   */
  async resolve(host: string): Promise<{ address: string; family: 4 | 6 }> {
    const literal = parseAddress(host);
    if (literal !== null) {
      const problem = this.addressProblem(literal);
      if (problem !== null) throw new InputNotAllowedError(`input host ${host} is not allowed: ${problem}`);
      return { address: literal.toString(), family: literal.kind() === "ipv4" ? 4 : 6 };
    }
    const name = host.startsWith("[") ? host.slice(1, -1) : host;
    let answers: LookupAddress[];
    try {
      // RFC 6761: localhost and names below it are loopback, whatever a resolver says (or fails to say).
      answers = /^(.+\.)?localhost\.?$/i.test(name)
        ? [
            { address: "127.0.0.1", family: 4 },
            { address: "::1", family: 6 },
          ]
        : await withTimeout(this.lookupAll(name), LOOKUP_TIMEOUT_MS, name);
    } catch (error) {
      throw new InputNotAllowedError(
        `input host ${name} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        { cause: error },
      );
    }
    if (answers.length === 0) throw new InputNotAllowedError(`input host ${name} resolves to no address`);
    for (const answer of answers) {
      const parsed = parseAddress(answer.address);
      const problem = parsed === null ? `${answer.address} is not an address` : this.addressProblem(parsed);
      if (problem !== null) {
        throw new InputNotAllowedError(`input host ${name} is not allowed: it resolves to ${problem}`);
      }
    }
    const first = parseAddress(answers[0].address)!;
    return { address: first.toString(), family: first.kind() === "ipv4" ? 4 : 6 };
  }

  /** Throws InputNotAllowedError unless `bucket` may be read. */
  checkBucket(bucket: string): void {
    if (this.inputBuckets.length > 0 && !this.inputBuckets.includes(bucket)) {
      throw new InputNotAllowedError(
        `input bucket "${bucket}" is not one this server reads from (VDET_INPUT_BUCKETS: ${this.inputBuckets.join(", ")})`,
      );
    }
  }

  /**
   * The real path of a local input, after checking it is allowed: file inputs on, and (with roots) the path with
   * every link resolved inside the real path of a root. Throws InputNotAllowedError; a path that does not exist
   * is left to the reader to report (null).
   */
  async checkFile(path: string): Promise<string | null> {
    if (!this.allowFileInputs) {
      throw new InputNotAllowedError(
        "local file inputs are not accepted by this server: use s3://, http(s):// or rtsp://, or start the api " +
          "with --allow-file-inputs (VDET_ALLOW_FILE_INPUTS=1)",
      );
    }
    if (!isAbsolute(path)) {
      // A relative path would resolve against the reading process's working directory, not the client's.
      throw new InputNotAllowedError(
        `local file inputs must be absolute paths on this server (got "${path}")`,
      );
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      if (this.inputRoots.length > 0) {
        throw new InputNotAllowedError(`local input ${path} does not exist inside the input roots`);
      }
      return null;
    }
    if (this.inputRoots.length === 0) return real;
    for (const root of this.inputRoots) {
      let realRoot: string;
      try {
        realRoot = await realpath(root);
      } catch {
        continue;
      }
      if (real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep))
        return real;
    }
    throw new InputNotAllowedError(
      `local input ${path} is outside the directories this server reads from (VDET_INPUT_ROOTS: ${this.inputRoots.join(", ")})`,
    );
  }

  /**
   * Checks a job's input: its kind, bucket, path (real path inside the roots) or network host (every address,
   * resolved now; the proxy resolves and checks it again at each connection). Throws InputNotAllowedError.
   * `atSubmission`: a name that does not resolve (yet) is accepted; it is checked when the producer connects.
   */
  async checkInput(input: string, options: { atSubmission?: boolean } = {}): Promise<void> {
    const scheme = inputScheme(input);
    if (scheme === null)
      throw new InputNotAllowedError(`input scheme of "${input.slice(0, 40)}" is not allowed`);
    if (scheme === "file") {
      await this.checkFile(input);
      return;
    }
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new InputNotAllowedError("input is not a valid URL");
    }
    if (scheme === "s3") {
      this.checkBucket(url.hostname);
      return;
    }
    if (url.hostname === "") throw new InputNotAllowedError("input URL has no host");
    try {
      await this.resolve(url.hostname);
    } catch (error) {
      const unresolved = (error as { cause?: unknown }).cause !== undefined;
      if (!(options.atSubmission && unresolved && parseAddress(url.hostname) === null)) throw error;
    }
  }
}
