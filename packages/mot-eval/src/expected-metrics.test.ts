// Checks every expected value in $VDET_DATA_DIR/mot/expected-metrics.json (py-motmetrics and TrackEval
// published test expectations, TrackEval values computed on the TUD files, hand-written event
// sequences). An expected key without a mapping here fails the test, so nothing is skipped silently.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  accumulateEvents,
  type Expected,
  haveFixtures,
  motDataDir,
  type SyntheticCase,
  sequenceFromTrackEvalInputs,
} from "../testing/fixtures.ts";
import type { MostlyTrackedRule } from "./clear-mot.ts";
import { combineSequences, evaluatePrepared, evaluateSequence, type SequenceMetrics } from "./evaluate.ts";
import { readMotFile } from "./mot-format.ts";

interface CaseDoc {
  id: string;
  data?: Record<string, { gt: string; hyp: string }>;
  expected?: Record<string, Expected>;
  cases?: Record<string, SyntheticCase>;
}
/** Compares values and remembers the largest deviation, which is reported as a diagnostic. */
class Checker {
  maxDeviation = 0;
  count = 0;
  constructor(private readonly tolerance: number) {}

  check(label: string, actual: number, expected: number | string): void {
    this.count++;
    if (expected === "NaN") {
      assert.ok(Number.isNaN(actual), `${label}: expected NaN, got ${actual}`);
      return;
    }
    assert.equal(typeof expected, "number", `${label}: unexpected expectation ${JSON.stringify(expected)}`);
    const deviation = Math.abs(actual - (expected as number));
    this.maxDeviation = Math.max(this.maxDeviation, deviation);
    assert.ok(
      deviation <= this.tolerance,
      `${label}: got ${actual}, expected ${expected} (|Δ| ${deviation})`,
    );
  }

  /** Checks every key of `expected` against `actualOf(key)`, labelled `${prefix} ${key}`. */
  checkAll(prefix: string, expected: Expected, actualOf: (key: string) => number): void {
    for (const [key, value] of Object.entries(expected)) this.check(`${prefix} ${key}`, actualOf(key), value);
  }

  /** Checks the results of a TUD case: every expected sequence must have been evaluated. */
  checkSequences(
    doc: CaseDoc,
    results: Map<string, SequenceMetrics>,
    actualOf: (key: string, m: SequenceMetrics) => number,
    prefix = "",
  ): void {
    for (const [seq, expected] of Object.entries(doc.expected ?? {})) {
      const m = results.get(seq);
      assert.ok(m, `sequence ${seq} evaluated`);
      this.checkAll(`${prefix}${seq}`, expected, (key) => actualOf(key, m));
    }
  }

  /** Fails when fewer than `minimum` values were checked (a case lost its expectations), else reports. */
  finish(t: TestContext, minimum: number): void {
    assert.ok(this.count >= minimum, `${this.count} values checked, expected at least ${minimum}`);
    this.report(t);
  }

  report(t: TestContext): void {
    t.diagnostic(
      `${this.count} values, max |Δ| = ${this.maxDeviation.toExponential(2)} (tolerance ${this.tolerance})`,
    );
  }
}

/** py-motmetrics metric names → our values. */
function pyMotmetricsValue(key: string, m: Pick<SequenceMetrics, "clear" | "identity">): number {
  const c = m.clear;
  const i = m.identity;
  const table: Record<string, number> = {
    num_frames: c.numFrames,
    num_matches: c.numMatches,
    num_switches: c.numSwitches,
    num_transfer: c.numTransfer,
    num_ascend: c.numAscend,
    num_migrate: c.numMigrate,
    num_false_positives: c.numFalsePositives,
    num_misses: c.numMisses,
    num_detections: c.numDetections,
    num_objects: c.numObjects,
    num_predictions: c.numPredictions,
    num_unique_objects: c.numUniqueObjects,
    mostly_tracked: c.mostlyTracked,
    partially_tracked: c.partiallyTracked,
    mostly_lost: c.mostlyLost,
    num_fragmentations: c.numFragmentations,
    mota: c.mota,
    motp: c.motp,
    recall: c.recall,
    precision: c.precision,
    idtp: i.idtp,
    idfp: i.idfp,
    idfn: i.idfn,
    idf1: i.idf1,
    idp: i.idp,
    idr: i.idr,
  };
  if (!(key in table)) assert.fail(`no mapping for py-motmetrics metric "${key}"`);
  return table[key];
}

/** TrackEval field names (and py-motmetrics' lower-case HOTA names) → our values. */
function trackEvalValue(key: string, m: SequenceMetrics): number {
  const c = m.clear;
  const table: Record<string, number> = {
    HOTA: m.hota.hota,
    DetA: m.hota.detA,
    AssA: m.hota.assA,
    LocA: m.hota.locA,
    DetRe: m.hota.detRe,
    DetPr: m.hota.detPr,
    AssRe: m.hota.assRe,
    AssPr: m.hota.assPr,
    "HOTA(0)": m.hota.hota0,
    "LocA(0)": m.hota.locA0,
    hota: m.hota.hota,
    deta: m.hota.detA,
    assa: m.hota.assA,
    MOTA: c.mota,
    MOTP: m.clearIouSum / c.numDetections,
    CLR_TP: c.numDetections,
    CLR_FN: c.numMisses,
    CLR_FP: c.numFalsePositives,
    IDSW: c.numSwitches,
    MT: c.mostlyTracked,
    PT: c.partiallyTracked,
    ML: c.mostlyLost,
    Frag: c.numFragmentations,
    CLR_Re: c.recall,
    CLR_Pr: c.precision,
    IDF1: m.identity.idf1,
    IDR: m.identity.idr,
    IDP: m.identity.idp,
    IDTP: m.identity.idtp,
    IDFN: m.identity.idfn,
    IDFP: m.identity.idfp,
    STDA: m.vace.stda,
    ATA: m.vace.ata,
  };
  if (!(key in table)) assert.fail(`no mapping for TrackEval field "${key}"`);
  return table[key];
}

function evaluateTud(doc: CaseDoc, rule: MostlyTrackedRule): Map<string, SequenceMetrics> {
  const results = new Map<string, SequenceMetrics>();
  for (const [name, files] of Object.entries(doc.data ?? {})) {
    const gt = readMotFile(join(motDataDir, files.gt), { kind: "gt" });
    const hyp = readMotFile(join(motDataDir, files.hyp), { kind: "res" });
    results.set(name, evaluateSequence(gt, hyp, { name, mostlyTrackedRule: rule }));
  }
  results.set("OVERALL", combineSequences([...results.values()], "OVERALL"));
  return results;
}

function loadCases(t: TestContext): CaseDoc[] | undefined {
  if (!haveFixtures(t, "expected-metrics.json")) return undefined;
  const doc = JSON.parse(readFileSync(join(motDataDir, "expected-metrics.json"), "utf8")) as {
    cases: CaseDoc[];
  };
  assert.ok(Array.isArray(doc.cases) && doc.cases.length > 0, "expected-metrics.json has cases");
  return doc.cases;
}

const KNOWN_CASES = [
  "py-motmetrics/test_motchallenge_files",
  "py-motmetrics/test_hota",
  "trackeval-computed/TUD",
  "py-motmetrics/accumulator-synthetic",
  "trackeval/test_metrics-synthetic",
];

test("expected-metrics.json lists only cases this test knows how to check", (t) => {
  const cases = loadCases(t);
  if (!cases) return;
  for (const c of cases) assert.ok(KNOWN_CASES.includes(c.id), `unhandled case ${c.id}`);
});

function caseById(cases: CaseDoc[], id: string): CaseDoc {
  const c = cases.find((x) => x.id === id);
  assert.ok(c, `case ${id} present in expected-metrics.json`);
  return c;
}

/** The case `id` of expected-metrics.json, or undefined (test skipped) without the shared data. */
function loadCase(t: TestContext, id: string): CaseDoc | undefined {
  const cases = loadCases(t);
  return cases && caseById(cases, id);
}

test("py-motmetrics test_motchallenge_files: TUD-Campus, TUD-Stadtmitte, OVERALL", (t) => {
  const doc = loadCase(t, "py-motmetrics/test_motchallenge_files");
  if (!doc) return;
  if (!haveFixtures(t, ...Object.values(doc.data ?? {}).flatMap((d) => [d.gt, d.hyp]))) return;
  const results = evaluateTud(doc, "py-motmetrics");
  // Expected values are printed with 6 decimals; integers must match exactly.
  const checker = new Checker(1e-6);
  checker.checkSequences(doc, results, pyMotmetricsValue);
  checker.finish(t, 45);
});

test("py-motmetrics test_hota and TrackEval values computed on the TUD files", (t) => {
  for (const id of ["py-motmetrics/test_hota", "trackeval-computed/TUD"]) {
    const doc = loadCase(t, id);
    if (!doc) return;
    if (!haveFixtures(t, ...Object.values(doc.data ?? {}).flatMap((d) => [d.gt, d.hyp]))) return;
    const results = evaluateTud(doc, "trackeval");
    const checker = new Checker(1e-9);
    checker.checkSequences(doc, results, trackEvalValue, `${id} `);
    checker.finish(t, 6);
  }
});

/** Checks each hand-written case of `id` with `checkCase`; at least `minimum` values in all. */
function checkSyntheticCases(
  t: TestContext,
  id: string,
  minimum: number,
  checkCase: (checker: Checker, name: string, c: SyntheticCase) => void,
): void {
  const doc = loadCase(t, id);
  if (!doc) return;
  const checker = new Checker(1e-9);
  for (const [name, c] of Object.entries(doc.cases ?? {})) checkCase(checker, name, c);
  checker.finish(t, minimum);
}

test("py-motmetrics accumulator event sequences (MATCH/SWITCH/TRANSFER/ASCEND/MIGRATE, empty cases)", (t) => {
  checkSyntheticCases(t, "py-motmetrics/accumulator-synthetic", 40, (checker, name, c) => {
    const m = accumulateEvents(c.frames ?? []);
    checker.checkAll(name, c.expected ?? {}, (key) => pyMotmetricsValue(key, m));
  });
});

test("TrackEval test_metrics synthetic sequences: CLEAR, Identity, VACE and HOTA", (t) => {
  checkSyntheticCases(t, "trackeval/test_metrics-synthetic", 60, (checker, name, c) => {
    assert.ok(c.inputs, `${name} has inputs`);
    const m = evaluatePrepared(sequenceFromTrackEvalInputs(name, c.inputs));
    const groups = { ...(c.expected_from_test ?? {}), hota: c.computed_hota ?? {} };
    for (const [group, values] of Object.entries(groups)) {
      checker.checkAll(`${name} ${group}`, values, (key) => trackEvalValue(key, m));
    }
  });
});
