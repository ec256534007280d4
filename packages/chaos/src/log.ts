/**
 * The candidates' logger: one JSON object per line on stderr, stamped with
 * the host's monotonic clock, so the soak can follow what each candidate's
 * library says (its session or lease, its losses) next to the store's record.
 */
import type { Logger } from '@elect/core';

export function jsonLogger(fields: Record<string, unknown>): Logger {
  const write = (level: string) => (more: object, msg?: string) => {
    process.stderr.write(`${JSON.stringify({ level, t: String(process.hrtime.bigint()), ...fields, ...more, ...(msg ? { msg } : {}) }, replacer)}\n`);
  };
  return { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Error) return value.message;
  return value;
}
