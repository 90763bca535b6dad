// Plain-text table of summary rows for terminals (percentages like the MOTChallenge tables).

import type { MetricsSummary } from "./evaluate.ts";

interface Column {
  header: string;
  value: (s: MetricsSummary) => string;
}

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : String(v));
const int = (v: number) => String(v);

const COLUMNS: Column[] = [
  { header: "HOTA", value: (s) => pct(s.hota) },
  { header: "DetA", value: (s) => pct(s.detA) },
  { header: "AssA", value: (s) => pct(s.assA) },
  { header: "MOTA", value: (s) => pct(s.mota) },
  { header: "MOTP", value: (s) => pct(s.motp) },
  { header: "IDF1", value: (s) => pct(s.idf1) },
  { header: "IDP", value: (s) => pct(s.idp) },
  { header: "IDR", value: (s) => pct(s.idr) },
  { header: "Rcll", value: (s) => pct(s.recall) },
  { header: "Prcn", value: (s) => pct(s.precision) },
  { header: "GT", value: (s) => int(s.gtIds) },
  { header: "MT", value: (s) => int(s.mt) },
  { header: "PT", value: (s) => int(s.pt) },
  { header: "ML", value: (s) => int(s.ml) },
  { header: "FP", value: (s) => int(s.fp) },
  { header: "FN", value: (s) => int(s.fn) },
  { header: "IDSW", value: (s) => int(s.idsw) },
  { header: "Frag", value: (s) => int(s.frag) },
];

/** Renders rows as an aligned table; the first column is the sequence name. */
export function formatSummaryTable(rows: readonly MetricsSummary[]): string {
  const header = ["Sequence", ...COLUMNS.map((c) => c.header)];
  const body = rows.map((r) => [r.name, ...COLUMNS.map((c) => c.value(r))]);
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((row) => row[k].length)));
  const line = (cells: string[]) =>
    cells.map((cell, k) => (k === 0 ? cell.padEnd(widths[k]) : cell.padStart(widths[k]))).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}
