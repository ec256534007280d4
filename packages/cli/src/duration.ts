/**
 * Durations as people write them: `500ms`, `10s`, `2m`, `1h`, `1.5s`,
 * `1m30s`. A bare number is refused (except `0`): `--ttl 10` could mean ten
 * seconds or ten milliseconds, and guessing wrong on a safety timeout is worse
 * than asking.
 */

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const part = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

/** Milliseconds for `text`, or an Error whose message says what is wrong (without naming the flag). */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw new Error('is empty; write a duration such as 500ms, 10s or 2m');
  if (input.startsWith('-')) throw new Error(`"${input}" is negative; write a duration such as 500ms, 10s or 2m`);
  if (/^\d+(?:\.\d+)?$/.test(input)) {
    if (Number(input) === 0) return 0;
    throw new Error(`"${input}" has no unit; write ${input}s or ${input}ms (units: ms, s, m, h)`);
  }
  let total = 0;
  part.lastIndex = 0;
  while (part.lastIndex < input.length) {
    const at = part.lastIndex;
    const match = part.exec(input);
    if (!match) {
      throw new Error(`"${input}" is not a duration (at "${input.slice(at)}"); write e.g. 500ms, 10s, 2m or 1m30s`);
    }
    total += Number(match[1]) * (unitMs[match[2] as string] as number);
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) throw new Error(`"${input}" is too long`);
  return Math.round(total);
}

/** `1500` → `1.5s`, for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(3))}s`;
  return `${Number((ms / 60_000).toFixed(3))}m`;
}
