/**
 * The table: one row per figure and backend, one column per tool, and for
 * elect's two columns the ratio to the best peer on the same row (below 1:
 * elect does better). Figures only; nothing is asserted.
 */
import type { Backend, ToolName } from './tools.js';

/** The q-quantile by nearest rank (p99 of 50 samples is the largest). */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);
export const max = (samples: readonly number[]): number => (samples.length === 0 ? NaN : Math.max(...samples));
export const mean = (samples: readonly number[]): number => (samples.length === 0 ? NaN : samples.reduce((a, b) => a + b, 0) / samples.length);

export interface Cell {
  value: number;
  /** Shown instead of a figure (why there is none). */
  note?: string;
  /** Samples behind the figure. */
  n?: number;
}

export interface Row {
  figure: string;
  backend: Backend;
  unit: 'ms' | 'MiB' | '%' | '×TTL' | '';
  cells: Partial<Record<ToolName, Cell>>;
}

const PEERS: ToolName[] = ['curator', 'etcdctl-lock', 'etcdctl-elect'];
const OURS: ToolName[] = ['lib', 'cli'];
const COLUMNS: Array<[ToolName, string]> = [
  ['curator', 'Curator LeaderLatch 5.4'],
  ['etcdctl-lock', 'etcdctl lock'],
  ['etcdctl-elect', 'etcdctl elect'],
  ['lib', 'elect lib'],
  ['cli', 'elect cli'],
  ['floor', 'Node floor'],
  ['floor-cli', 'Node floor running a command'],
];

function format(value: number, unit: Row['unit']): string {
  if (!Number.isFinite(value)) return '–';
  const digits = unit === '×TTL' ? 2 : Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 1;
  const text = value.toFixed(digits);
  return unit === '' || unit === '×TTL' ? text : `${text} ${unit}`;
}

function cell(row: Row, tool: ToolName): string {
  const c = row.cells[tool];
  if (c === undefined) return '';
  if (c.note !== undefined) return c.note;
  const n = c.n !== undefined && c.n > 1 ? ` (n=${c.n})` : '';
  return `${format(c.value, row.unit)}${n}`;
}

function ratio(row: Row, tool: ToolName): string {
  const ours = row.cells[tool]?.value;
  const peers = PEERS.map((peer) => row.cells[peer]?.value).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (ours === undefined || !Number.isFinite(ours) || peers.length === 0) return '';
  const best = Math.min(...peers);
  if (best === 0) return ours === 0 ? '1.00' : '– (peer 0)';
  return (ours / best).toFixed(2);
}

export function table(rows: readonly Row[]): string {
  const header = ['figure', ...COLUMNS.map(([, title]) => title), ...OURS.map((tool) => `${tool} ÷ best peer`)];
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const cells = [`${row.figure}, ${row.backend === 'zk' ? 'ZooKeeper' : 'etcd'}`, ...COLUMNS.map(([tool]) => cell(row, tool)), ...OURS.map((tool) => ratio(row, tool))];
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}
