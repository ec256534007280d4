/**
 * `runWhileLeader`: the election as a supervisor of one piece of work.
 * Campaign; run the task while leader; stop it when leadership ends; never
 * run two at once. The CLI's `elect run` is this function with a task that
 * spawns a child process.
 */
import type { Clock } from './clock.js';
import type { Election, Leadership } from './contract.js';
import { ErrorCode, InvalidOptionError, LeadershipLostError, TimeoutError, abortReason, isElectError } from './errors.js';
import type { Logger } from './logger.js';
import { candidateId, candidateValue, clockOption, priorityOptions, describe, durationOption, knownKeys, loggerOption, signalOption } from './options.js';
import { TaskLeadership } from './task-leadership.js';
import { linkSignals, sleep, whenAborted, within } from './wait.js';

export interface RunWhileLeaderOptions {
  /** The candidate id (see `CampaignOptions.id`). */
  id: string;
  /** The value to campaign with (defaults to `id`); used again on every rejoin. */
  value?: string;
  /** Campaign in a priority election with this priority (see `CampaignOptions.priority`), on every rejoin too. */
  priority?: number;
  /** With `priority`: preempt a leader of lower priority (see `CampaignOptions.preempt`). */
  preempt?: boolean;
  /**
   * After leadership is lost through trouble (deadline, session expiry,
   * deleted entry), or passed on to another candidate (preempted, handed
   * over from elsewhere), and the task has settled, campaign again instead
   * of rejecting. Default false.
   */
  rejoin?: boolean;
  /**
   * With `rejoin`, how long to pause between a loss and the next campaign, so
   * that a fault which ends every term at once does not spin. Default 0.
   */
  rejoinDelayMs?: number;
  /**
   * Give up a campaign (the first, and each rejoin) not won within this long:
   * reject with a `TimeoutError` (`retryable: false`), leaving nothing behind.
   * Default: wait for as long as it takes.
   */
  campaignTimeoutMs?: number;
  /** Stops everything: aborts the campaign, or stops the task and resigns. */
  signal?: AbortSignal;
  /**
   * How long to wait for the task to settle once told to stop (leadership
   * lost, or `signal` aborted). Default 10 000 ms.
   */
  settleTimeoutMs?: number;
  /** The clock `settleTimeoutMs` runs on. Default: core's monotonic clock (tests pass a `ManualClock`). */
  clock?: Clock;
  /** Where each campaign and rejoin is recorded (events `campaigning`, `rejoining`). Default: nowhere. */
  logger?: Logger;
}

/**
 * The work to do while leader. It must stop when `leadership.signal` aborts
 * (the reason is a `LeadershipLostError`); work that takes time to stop (a
 * child process) should start stopping on `leadership.signalAhead(ms)` so it
 * is gone by the loss deadline.
 */
export type LeaderTask<T> = (leadership: Leadership) => T | PromiseLike<T>;

/** How long `runWhileLeader` waits, by default, for a task told to stop. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 10_000;

/**
 * Campaigns on `election` as `options.id`, then runs `task(leadership)`.
 *
 * - **Resolves** with the task's value when the task settles successfully
 *   while leader (or after resigning by itself), once our entry is removed.
 * - **Rejects with the task's error** when the task fails while leader —
 *   after resigning; task errors are never swallowed.
 * - **On loss** (deadline, session expiry, entry deleted, election closed)
 *   the task's `leadership.signal` aborts with a `LeadershipLostError`; we wait
 *   up to `settleTimeoutMs` for the task to settle, remove what is left of our
 *   entry, then — after `rejoinDelayMs` — campaign again if `rejoin` is set
 *   and the loss is retryable, else reject with a `LeadershipLostError` whose `reason` says why (its
 *   `cause` is the task's own error when the task failed with another one).
 *   A task that rejects with a `LeadershipLostError` while still leader — it
 *   stopped early on `signalAhead()` and rethrew that signal's reason — is
 *   treated the same way: resign, then rejoin or reject with that error.
 * - **On `signal` abort**: while campaigning, rejects with `AbortError` (the
 *   campaign leaves nothing behind); while the task runs, aborts the task's
 *   signal first, waits for it to settle, only then resigns — so our entry is
 *   never handed over while our task still runs — and rejects with `AbortError`.
 * - **Rejects with `TimeoutError`** (`retryable: false`) when a campaign is
 *   not won within `campaignTimeoutMs`; nothing is left behind.
 * - **Rejects with `TimeoutError`** when the task does not settle within
 *   `settleTimeoutMs` after being told to stop. No second task is started,
 *   and we do not resign for it: the caller must stop the task by other means
 *   (e.g. SIGKILL), then close the election, which deletes our entry.
 * - **Rejects** with `ClosedError` when the election is closed while
 *   campaigning, with `InvalidOptionError` (naming the option) for bad
 *   options — before anything is written — and with `resign()`'s error if
 *   removing our entry fails after the task settled.
 *
 * Never two tasks at once: a new campaign starts only after the previous task
 * settled.
 *
 * @example A supervisor (the shape of `elect run`): the child's exit status is
 * the result; a child stopped because leadership is ending is a loss.
 * ```ts
 * const status = await runWhileLeader(election, async (leadership) => {
 *   const child = spawnChild({ ELECT_TOKEN: String(leadership.token) });
 *   const stop = leadership.signalAhead(graceMs); // gone by the loss deadline
 *   stop.addEventListener('abort', () => child.terminate(graceMs), { once: true });
 *   const code = await child.exited;
 *   if (stop.aborted) throw stop.reason; // a LeadershipLostError
 *   return code;
 * }, { id: hostname, rejoin: true, signal: shutdown.signal });
 * ```
 */
export async function runWhileLeader<T>(election: Election, task: LeaderTask<T>, options: RunWhileLeaderOptions): Promise<T> {
  const opts = validate(election, task, options);
  for (;;) {
    const leadership = await campaign(election, opts);
    const term = await serve(leadership, task, opts);
    if (term.kind === 'done') return term.value;
    if (term.kind === 'failed') throw term.error;
    // 'rejoin': the task has settled and our entry is gone; campaign again.
    if (opts.signal?.aborted) throw abortReason(opts.signal, 'runWhileLeader');
    opts.logger.warn(
      { event: 'rejoining', reason: term.loss.reason, delayMs: opts.rejoinDelayMs },
      `leadership lost (${term.loss.reason}); campaigning again${opts.rejoinDelayMs > 0 ? ` in ${opts.rejoinDelayMs} ms` : ''}`,
    );
    if (opts.rejoinDelayMs > 0) await sleep(opts.clock, opts.rejoinDelayMs, opts.signal);
  }
}

const campaignTimeouts = new WeakSet<object>();

/**
 * True when `error` is runWhileLeader's rejection for a campaign not won
 * within `campaignTimeoutMs` (as opposed to a task that did not settle in
 * time, or a backend's own timeout).
 */
export function isCampaignTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && campaignTimeouts.has(error);
}

/** One campaign, given up after `campaignTimeoutMs` if that is set. */
async function campaign(election: Election, opts: Options): Promise<Leadership> {
  opts.logger.info({ event: 'campaigning' }, `campaigning as ${opts.id}`);
  const base = {
    id: opts.id,
    ...(opts.value === undefined ? {} : { value: opts.value }),
    ...(opts.priority === undefined ? {} : { priority: opts.priority, preempt: opts.preempt }),
  };
  const limit = opts.campaignTimeoutMs;
  if (limit === undefined) return election.campaign({ ...base, ...(opts.signal ? { signal: opts.signal } : {}) });
  const timeUp = new AbortController();
  const cancel = opts.clock.schedule(() => timeUp.abort(), limit);
  // Linked, not AbortSignal.any: the caller's signal outlives every campaign.
  const joined = linkSignals([opts.signal, timeUp.signal]);
  try {
    return await election.campaign({ ...base, signal: joined.signal });
  } catch (error) {
    if (timeUp.signal.aborted && !opts.signal?.aborted) {
      const timeout = new TimeoutError(`runWhileLeader: not elected within ${limit} ms (campaignTimeoutMs); the campaign was given up`, { cause: error, retryable: false });
      campaignTimeouts.add(timeout);
      throw timeout;
    }
    throw error;
  } finally {
    cancel();
    joined.release();
  }
}

interface Options {
  id: string;
  value: string | undefined;
  priority: number | undefined;
  preempt: boolean;
  rejoin: boolean;
  rejoinDelayMs: number;
  campaignTimeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  settleTimeoutMs: number;
  clock: Clock;
  logger: Logger;
}

type Settled<T> = { ok: true; value: T; whileLeader: boolean } | { ok: false; error: unknown; whileLeader: boolean };
type Term<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'rejoin'; loss: LeadershipLostError };

/** One term of office: runs the task once and decides what comes next. */
async function serve<T>(leadership: Leadership, task: LeaderTask<T>, opts: Options): Promise<Term<T>> {
  const stop = new AbortController();
  const view = new TaskLeadership(leadership, stop.signal);
  if (opts.signal?.aborted) {
    // Aborted just as we were elected: the task never starts.
    await leadership.resign();
    return { kind: 'failed', error: abortReason(opts.signal, 'runWhileLeader') };
  }
  const settled = start(task, view, leadership);
  const lost = whenAborted(leadership.signal);
  const aborted = opts.signal ? whenAborted(opts.signal) : undefined;
  let first: 'settled' | 'lost' | 'aborted';
  try {
    first = await Promise.race([
      settled.then(() => 'settled' as const),
      lost.promise.then(() => 'lost' as const),
      ...(aborted ? [aborted.promise.then(() => 'aborted' as const)] : []),
    ]);
  } finally {
    lost.dispose();
    aborted?.dispose();
  }

  if (first === 'aborted') {
    const reason = abortReason(opts.signal as AbortSignal, 'runWhileLeader');
    stop.abort(new LeadershipLostError('resigned', 'runWhileLeader was aborted: stopping the task before resigning', { cause: reason }));
    const outcome = await within(opts.clock, settled, opts.settleTimeoutMs);
    if (!outcome) return { kind: 'failed', error: notStopped(opts.settleTimeoutMs, 'runWhileLeader was aborted', reason) };
    await leadership.resign();
    return { kind: 'failed', error: reason };
  }

  const outcome = await within(opts.clock, settled, opts.settleTimeoutMs);
  const ended: unknown = leadership.signal.aborted ? leadership.signal.reason : undefined;
  if (!outcome) return { kind: 'failed', error: notStopped(opts.settleTimeoutMs, 'leadership was lost', ended) };
  // After the task settled, never before: our entry is not handed over while
  // the task may still act. Once leadership was lost this only cleans up.
  await leadership.resign();
  // Leadership ended under the task (not by the task's own resign), or the
  // task declared it lost by rejecting with a LeadershipLostError (e.g. it
  // stopped its work on signalAhead() and rethrew that signal's reason).
  const underTask = !outcome.whileLeader && !byOwner(ended);
  const declared = !outcome.ok && isLoss(outcome.error) && !byOwner(outcome.error) ? outcome.error : undefined;
  if (!underTask && !declared) {
    return outcome.ok ? { kind: 'done', value: outcome.value } : { kind: 'failed', error: outcome.error };
  }
  const loss = underTask ? ended : declared;
  if (opts.rejoin && isLoss(loss) && loss.retryable) return { kind: 'rejoin', loss };
  if (!isLoss(loss) || outcome.ok || outcome.error === loss) return { kind: 'failed', error: loss };
  return {
    kind: 'failed',
    error: new LeadershipLostError(loss.reason, `${loss.message}; the task then failed: ${message(outcome.error)}`, { cause: outcome.error }),
  };
}

/** Leadership ended as its owner asked: a resign, or a handover it made itself (one asked for from elsewhere is retryable). */
function byOwner(error: unknown): boolean {
  return isLoss(error) && (error.reason === 'resigned' || (error.reason === 'handover' && !error.retryable));
}

function isLoss(error: unknown): error is LeadershipLostError {
  return isElectError(error) && error.code === ErrorCode.LeadershipLost;
}

/** Runs the task; never rejects. `whileLeader` records whether leadership still held when it settled. */
function start<T>(task: LeaderTask<T>, view: TaskLeadership, leadership: Leadership): Promise<Settled<T>> {
  let result: T | PromiseLike<T>;
  try {
    result = task(view);
  } catch (error) {
    return Promise.resolve({ ok: false, error, whileLeader: leadership.isLeader });
  }
  return Promise.resolve(result).then(
    (value): Settled<T> => ({ ok: true, value, whileLeader: leadership.isLeader }),
    (error: unknown): Settled<T> => ({ ok: false, error, whileLeader: leadership.isLeader }),
  );
}

function notStopped(ms: number, why: string, cause: unknown): TimeoutError {
  return new TimeoutError(
    `runWhileLeader: the task did not stop within ${ms} ms after ${why}; no other task was started. ` +
      'Stop it by other means, then close the election to remove our entry.',
    { cause, retryable: false },
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function validate(election: unknown, task: unknown, options: unknown): Options {
  if (typeof election !== 'object' || election === null || typeof (election as Election).campaign !== 'function') {
    throw new InvalidOptionError('election', `must be an Election, got ${describe(election)}`);
  }
  if (typeof task !== 'function') throw new InvalidOptionError('task', `must be a function, got ${describe(task)}`);
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `must be an object with at least an id, got ${describe(options)}`);
  }
  knownKeys('runWhileLeader()', options, ['id', 'value', 'priority', 'preempt', 'rejoin', 'rejoinDelayMs', 'campaignTimeoutMs', 'signal', 'settleTimeoutMs', 'clock', 'logger']);
  const o = options as Record<string, unknown>;
  if (o.rejoin !== undefined && typeof o.rejoin !== 'boolean') {
    throw new InvalidOptionError('rejoin', `must be a boolean, got ${describe(o.rejoin)}`);
  }
  return {
    id: candidateId(o.id),
    value: o.value === undefined ? undefined : candidateValue(o.value),
    ...priorityOptions(o.priority, o.preempt),
    rejoin: o.rejoin === true,
    rejoinDelayMs: durationOption('rejoinDelayMs', o.rejoinDelayMs, 0, { min: 0, max: 2_147_483_647 }),
    campaignTimeoutMs:
      o.campaignTimeoutMs === undefined ? undefined : durationOption('campaignTimeoutMs', o.campaignTimeoutMs, 0, { min: 1, max: 2_147_483_647 }),
    signal: signalOption(o.signal),
    // setTimeout's ceiling: a longer wait would fire at once.
    settleTimeoutMs: durationOption('settleTimeoutMs', o.settleTimeoutMs, DEFAULT_SETTLE_TIMEOUT_MS, { min: 0, max: 2_147_483_647 }),
    clock: clockOption(o.clock),
    logger: loggerOption(o.logger),
  };
}
