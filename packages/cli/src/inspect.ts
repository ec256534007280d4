/**
 * `elect leader`, `elect candidates`, `elect observe`: read-only views of an
 * election. They create nothing on the server. Text output is one
 * tab-separated line per entry (`id`, `token`, `value`, and in a priority
 * election the priority, `+preempt` appended when it preempts, then for a
 * leader that preempted its predecessor or was handed leadership `preempted`
 * or `handover`), easy to `cut`; `--json` prints the same fields with the token as a decimal string
 * (a 64-bit token does not fit a JSON number). `elect handover` asks for a
 * change and prints the new leader as `elect leader` does.
 */
import { isElectError, ErrorCode, type CandidateInfo, type Clock, type Election } from '@elect/core';
import type { Output, SignalSource } from './deps.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import type { HandoverOptions, InspectOptions } from './options.js';
import { signalNumber } from './process-group.js';

interface Entry {
  id: string;
  value: string;
  token: string;
  key: string;
  priority?: number;
  preempt?: boolean;
  via?: 'preempted' | 'handover';
}

function entry(info: CandidateInfo): Entry {
  const base = { id: info.id, value: info.value, token: info.token.toString(), key: info.key };
  if (info.priority === undefined) return base;
  return { ...base, priority: info.priority, preempt: info.preempt === true, ...(info.via ? { via: info.via } : {}) };
}

function line(info: CandidateInfo): string {
  const fields = [info.id, info.token.toString(), oneLine(info.value)];
  if (info.priority !== undefined) fields.push(`${info.priority}${info.preempt ? '+preempt' : ''}`);
  if (info.via !== undefined) fields.push(info.via);
  return fields.join('\t');
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

/**
 * Asks the leader to hand over to `--to` and waits until that candidate
 * leads (its line is printed, as by `elect leader`), at most `--wait`: then
 * exit 124. Exit 1 as soon as that can no longer happen: `--to` left
 * before taking over (the leader still leads), or another candidate came
 * to lead (a preemptor came first). The leader stops its work first
 * (`elect run` stops its command as for any loss), so this takes about as
 * long as that stop.
 */
export async function handover(election: Election, o: HandoverOptions, stdout: Output, stderr: Output, signals: SignalSource, clock: Clock): Promise<number> {
  const stop = new AbortController();
  const stopSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals): void => stop.abort(signal);
  for (const signal of stopSignals) signals.on(signal, onSignal);
  const timeUp = new AbortController();
  const cancel = clock.schedule(() => timeUp.abort(), o.waitMs);
  try {
    const next = await election.handover({ to: o.to, signal: AbortSignal.any([stop.signal, timeUp.signal]) });
    if (o.json) stdout.write(`${JSON.stringify(entry(next))}\n`);
    else stdout.write(`${line(next)}\n`);
    return ExitCode.Ok;
  } catch (error) {
    if (timeUp.signal.aborted && isElectError(error) && error.code === ErrorCode.Aborted) return ExitCode.WaitExpired;
    if (isElectError(error) && error.code === ErrorCode.HandoverFailed) {
      stderr.write(`elect: ${error.message}\n`);
      return ExitCode.HandoverFailed;
    }
    // Interrupted: the request stays with the leader, which may still act on it.
    if (stop.signal.aborted) return signalExitCode(signalNumber(stop.signal.reason as NodeJS.Signals));
    throw error;
  } finally {
    cancel();
    for (const signal of stopSignals) signals.off(signal, onSignal);
  }
}
