/**
 * `elect leader`, `elect candidates`, `elect observe`: read-only views of an
 * election. They create nothing on the server. Text output is one
 * tab-separated line per entry (`id`, `token`, `value`), easy to `cut`;
 * `--json` prints the same fields with the token as a decimal string (a
 * 64-bit token does not fit a JSON number).
 */
import type { CandidateInfo, Election } from '@elect/core';
import type { Output, SignalSource } from './deps.js';
import { ExitCode } from './exit-codes.js';
import type { InspectOptions } from './options.js';

interface Entry {
  id: string;
  value: string;
  token: string;
  key: string;
}

function entry(info: CandidateInfo): Entry {
  return { id: info.id, value: info.value, token: info.token.toString(), key: info.key };
}

function line(info: CandidateInfo): string {
  return [info.id, info.token.toString(), oneLine(info.value)].join('\t');
}

/** Values are free text; keep one entry on one line. */
function oneLine(value: string): string {
  return value.replace(/[\t\r\n]/g, ' ');
}

export async function leader(election: Election, o: InspectOptions, stdout: Output): Promise<number> {
  const current = await election.leader();
  if (o.json) stdout.write(`${JSON.stringify(current ? entry(current) : null)}\n`);
  else if (current) stdout.write(`${line(current)}\n`);
  return current ? ExitCode.Ok : ExitCode.NoLeader;
}

export async function candidates(election: Election, o: InspectOptions, stdout: Output): Promise<number> {
  const queue = await election.candidates();
  if (o.json) stdout.write(`${JSON.stringify(queue.map(entry))}\n`);
  else for (const info of queue) stdout.write(`${line(info)}\n`);
  return ExitCode.Ok;
}

/**
 * One line per change, first the current leader, until SIGINT / SIGTERM /
 * SIGHUP (then exit 0: being interrupted is how observing ends). Text lines
 * start with the local time the change was seen; "no leader" is `-`.
 */
export async function observe(election: Election, o: InspectOptions, stdout: Output, signals: SignalSource): Promise<number> {
  const stop = new AbortController();
  const stopSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (): void => stop.abort();
  for (const signal of stopSignals) signals.on(signal, onSignal);
  try {
    for await (const current of election.observe({ signal: stop.signal })) {
      const time = new Date().toISOString();
      if (o.json) stdout.write(`${JSON.stringify({ time, leader: current ? entry(current) : null })}\n`);
      else stdout.write(`${time}\t${current ? line(current) : '-'}\n`);
    }
    return ExitCode.Ok;
  } finally {
    for (const signal of stopSignals) signals.off(signal, onSignal);
  }
}
