// The published COCO checkpoints of the reference PyTorch implementation (release v0.1 of
// rwightman/efficientdet-pytorch), one per φ. The part of each file name after the dash is the start of its sha256.
// Mirrors and tests override the base URL (VDET_MODELS_BASE_URL) or single entries (VDET_MODELS_CATALOG).

import { readFileSync } from "node:fs";
import { PHI_VALUES, type PhiValue, parsePhi, phiLabel } from "@vdet/protocol";
import { z } from "zod";
import { ModelInputError } from "./errors.ts";

export const PUBLISHED_BASE_URL = "https://github.com/rwightman/efficientdet-pytorch/releases/download/v0.1/";

const PUBLISHED_FILES: Record<string, string> = {
  "0": "tf_efficientdet_d0_34-f153e0cf.pth",
  "1": "tf_efficientdet_d1_40-a30f94af.pth",
  "2": "tf_efficientdet_d2_43-8107aa99.pth",
  "3": "tf_efficientdet_d3_47-0b525f35.pth",
  "4": "tf_efficientdet_d4_49-f56376d9.pth",
  "5": "tf_efficientdet_d5_51-c79f9be6.pth",
  "6": "tf_efficientdet_d6_52-4eda3773.pth",
  "7": "tf_efficientdet_d7_53-6d1d7a95.pth",
  "7x": "tf_efficientdet_d7x-f390b87c.pth",
};

export interface CatalogEntry {
  /** Cache name: d0 … d7, d7x. */
  name: string;
  phi: PhiValue;
  url: string;
  /** File name the download is kept under while it is partial. */
  file: string;
  /** Expected sha256 (lower-case hex): the full digest, or a prefix of at least 8 digits. */
  sha256: string;
}

/** The sha256 prefix a reference file name carries (`…-f153e0cf.pth`), or undefined. */
export function sha256PrefixFromName(file: string): string | undefined {
  return /-([0-9a-f]{8,64})\.[a-z]+$/.exec(file)?.[1];
}

/** Cache name of a φ: "d0", …, "d7x". */
export function publishedName(phi: PhiValue): string {
  return phiLabel(phi).toLowerCase();
}

/** Parses "d0", "D3", "3", "7x", "d7x" into φ; undefined when it is not a φ name. */
export function parsePublishedName(text: string): PhiValue | undefined {
  const match = /^d?([0-7]|7x)$/i.exec(text.trim());
  return match ? parsePhi(match[1].toLowerCase()) : undefined;
}

const overrideSchema = z.record(
  z.string(),
  z.object({
    url: z.string().min(1),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{8,64}$/, "8 to 64 hex digits")
      .optional(),
  }),
);

export interface CatalogOptions {
  /** Replaces the published base URL; entries keep their file names (a mirror). */
  baseUrl?: string;
  /** Per-name overrides, e.g. { d0: { url, sha256 } }; sha256 defaults to the prefix in the URL's file name. */
  overrides?: Record<string, { url: string; sha256?: string }>;
}

/** Catalog options from VDET_MODELS_BASE_URL and VDET_MODELS_CATALOG (a JSON file of per-name overrides). */
export function catalogOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CatalogOptions {
  const options: CatalogOptions = {};
  if (env.VDET_MODELS_BASE_URL) options.baseUrl = env.VDET_MODELS_BASE_URL;
  if (env.VDET_MODELS_CATALOG) {
    const path = env.VDET_MODELS_CATALOG;
    try {
      options.overrides = overrideSchema.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch (error) {
      throw new ModelInputError(
        `VDET_MODELS_CATALOG=${path} is not a valid catalog: ${(error as Error).message}. ` +
          'It must be a JSON object such as {"d0": {"url": "https://mirror/d0.pth", "sha256": "f153e0cf"}}',
      );
    }
  }
  return options;
}

/** The download entry for φ, after mirror and catalog overrides. */
export function catalogEntry(phi: PhiValue, options: CatalogOptions = {}): CatalogEntry {
  const name = publishedName(phi);
  const publishedFile = PUBLISHED_FILES[String(phi)];
  const base = options.baseUrl ?? PUBLISHED_BASE_URL;
  const override = options.overrides?.[name];
  const url = override ? new URL(override.url, base).href : new URL(publishedFile, base).href;
  const file = decodeURIComponent(new URL(url).pathname.split("/").pop() || `${name}.pth`);
  const sha256 = (override?.sha256 ?? sha256PrefixFromName(file) ?? "").toLowerCase();
  if (sha256.length < 8) {
    throw new ModelInputError(
      `no checksum for ${name}: the file name ${file} carries no sha256 prefix; give "sha256" in VDET_MODELS_CATALOG`,
    );
  }
  return { name, phi, url, file, sha256 };
}

/** Every published φ, in order. */
export const PUBLISHED_PHIS: readonly PhiValue[] = PHI_VALUES;
