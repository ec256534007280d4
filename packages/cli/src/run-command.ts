/**
 * `elect run`: campaign, run the command while leader, and turn whatever
 * happens into an exit code. It is `runWhileLeader` (core) with one task: a
 * term of the command (supervise.ts). A term that ends with the command
 * stopped because leadership was ending is a loss: with `--rejoin`
 * runWhileLeader campaigns again after a short pause, else `elect` exits 75.
 *
 * Signals (signals.ts): while the command runs they are passed on to its
 * process group (supervise.ts). At any other moment — connecting,
 * campaigning, between terms, cleaning up after the command — SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT end `elect` with 128 + n: `interrupted` aborts,
 * which gives up a campaign at once (our queue entry is removed), or ends a
 * cleanup with SIGKILL instead of the grace period; no new campaign follows.
 * SIGUSR1/SIGUSR2 are ignored outside a term.
 */
import { ErrorCode, LeadershipLostError, isCampaignTimeout, isElectError, runWhileLeader, within, type Election, type Leadership } from '@elect/core';
import { withCampaign } from '@elect/core/backend';
import type { RunDeps, Watchdog } from './deps.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import type { Logger } from './log.js';
import { formatDuration } from './duration.js';
import { graceFor, stopMarginMs, type RunOptions } from './options.js';
import { signalNumber } from './process-group.js';
import type { SignalRouter } from './signals.js';
import { Gates, spawnGated } from './gate.js';
import { supervise, type TermResult } from './supervise.js';

export interface RunContext {
  options: RunOptions;
  /** Resolved path of the command (checked before campaigning). */
  file: string;
  election: Election;
  watchdog: Watchdog;
  deps: RunDeps;
  logger: Logger;
  /** Where signals to `elect` go (signals.ts). */
  signals: SignalRouter;
}

/** A term's end: the command exited, could not start, or was stopped because leadership was ending (`loss` says why). */
type Term = Exclude<TermResult, { kind: 'stopped' }> | { kind: 'stopped'; status: number; loss: LeadershipLostError };

/** Campaigns and runs terms until one ends `elect`; returns the exit code. */
export async function runWhileElected(ctx: RunContext): Promise<number> {
  const { options: o, deps } = ctx;
  // Each campaign forks the gate of the term it may win (gate.ts).
  const gates = new Gates(() => spawnGated(deps.spawn, ctx.file, o.argv.slice(1), { cwd: deps.cwd, env: gateEnv(deps.env, o) }));
  const election = withCampaign(ctx.election, (options, campaign) => {
    gates.prepare();
    return campaign(options);
  });
  try {
    return await campaignAndRun({ ...ctx, election }, gates);
  } finally {
    // A gate left waiting exits at once when let go; one that someone has
    // stopped (SIGSTOP) exits when the kernel closes its pipe as we exit.
    await within(deps.clock, gates.close(), 1_000);
  }
}

async function campaignAndRun(ctx: RunContext, gates: Gates): Promise<number> {
  const { options: o, logger } = ctx;
  const { interrupted } = ctx.signals;
  // The term in progress, should runWhileLeader give up waiting for it.
  let running: Promise<Term> | undefined;
  // How the last term ended when no campaign follows it: what to report if
  // runWhileLeader then rejects (our entry could not be removed, say).
  let last: Term | undefined;
  try {
    const ended = await runWhileLeader(
      ctx.election,
      async (leadership) => {
        last = undefined;
        running = runTerm(ctx, leadership, gates);
        const term = await running;
        running = undefined;
        // Leadership ended under the command: we stopped it — or, with
        // --rejoin, it exited just as leadership went (then it runs again).
        const loss = term.kind === 'stopped' ? term.loss : o.rejoin && !leadership.isLeader ? lossOf(leadership.signal) : undefined;
        if (loss === undefined) {
          last = term;
          return term;
        }
        if (!o.rejoin) last = term;
        logger.warn({ event: 'lost', reason: loss.reason }, `leadership lost (${loss.reason}); the command ${term.kind === 'stopped' ? 'was stopped' : 'had exited'}`);
        throw loss; // runWhileLeader's loss path: rejoin, or reject with it
      },
      {
        id: o.id,
        ...(o.value === undefined ? {} : { value: o.value }),
        ...(o.priority === undefined ? {} : { priority: o.priority, preempt: o.preempt }),
        rejoin: o.rejoin,
        // A short pause, so that a fault which ends every term at once (a
        // server granting a session too short for --grace) does not spin.
        rejoinDelayMs: Math.min(1_000, o.ttlMs / 10),
        ...(o.waitMs === undefined ? {} : { campaignTimeoutMs: o.waitMs }),
        signal: interrupted,
        // The term stops the command within grace + margin (plus a moment for
        // the kernel); past this runWhileLeader reports a stuck task.
        settleTimeoutMs: o.graceMs + stopMarginMs + 5_000,
        clock: ctx.deps.clock,
        logger,
      },
    );
    if (interrupted.aborted) return interruptedCode(interrupted);
    if (ended.kind === 'failed') return ended.code;
    logger.info({ event: 'done', status: ended.status }, `resigned; exiting with the command's status ${ended.status}`);
    return ended.status;
  } catch (error) {
    if (running) {
      // runWhileLeader gave up waiting for the stop and left our entry: the
      // command must be gone before we exit; closing the election then
      // removes the entry.
      await running;
      logger.error({ err: error, event: 'exit', code: ExitCode.LeadershipLost }, `the command took too long to stop; exiting ${ExitCode.LeadershipLost}`);
      return interrupted.aborted ? interruptedCode(interrupted) : ExitCode.LeadershipLost;
    }
    if (interrupted.aborted) return interruptedCode(interrupted);
    if (isCampaignTimeout(error)) {
      logger.error({ event: 'wait-expired', waitMs: o.waitMs }, `not elected within --wait; exiting ${ExitCode.WaitExpired}`);
      return ExitCode.WaitExpired;
    }
    if (last?.kind === 'exited' || last?.kind === 'failed') {
      // The command ended by itself; leadership ended or could not be
      // handed back cleanly after that. Its status is what we report.
      logger.warn({ err: error }, 'could not resign cleanly after the command ended; the server will drop our entry when the session/lease ends');
      return last.kind === 'exited' ? last.status : last.code;
    }
    if (isLoss(error)) {
      logger.error({ event: 'exit', code: ExitCode.LeadershipLost, reason: error.reason }, `leadership lost (${error.reason}); exiting ${ExitCode.LeadershipLost}`);
      return ExitCode.LeadershipLost;
    }
    // The command was stopped, but our entry could not be removed, or the
    // stop took too long for runWhileLeader (it settled just as it gave up).
    if (last?.kind === 'stopped' || (isElectError(error) && error.code === ErrorCode.Timeout && !error.retryable)) {
      logger.error({ err: error, event: 'exit', code: ExitCode.LeadershipLost }, `the command was stopped, but not cleanly; exiting ${ExitCode.LeadershipLost}`);
      return ExitCode.LeadershipLost;
    }
    throw error;
  }
}

/** One term: the command runs under `leadership` until it exits or leadership ends. */
async function runTerm(ctx: RunContext, leadership: Leadership, gates: Gates): Promise<Term> {
  const { options: o, deps } = ctx;
  const logger = ctx.logger.child({ token: leadership.token.toString() });
  // The deadline is on core's monotonic clock (the one our connections use),
  // not the wall clock, which may be set at any time.
  logger.info(
    { event: 'elected', deadlineInMs: Math.round(leadership.deadline - deps.clock.now()), ttlMs: leadership.timeoutMs },
    'elected leader',
  );
  // The stop is planned against the TTL the server granted, which may be
  // shorter than --ttl (a ZooKeeper's maxSessionTimeout): a --grace checked
  // only against --ttl would start the stop on every heartbeat gap.
  const graceMs = graceFor(o.backend, o.graceMs, leadership.timeoutMs);
  if (graceMs < o.graceMs) {
    logger.warn(
      { event: 'grace-shortened', ttlMs: o.ttlMs, grantedTtlMs: leadership.timeoutMs, graceMs: o.graceMs, usingGraceMs: graceMs },
      `the server granted a TTL of ${formatDuration(leadership.timeoutMs)}, shorter than --ttl ${formatDuration(o.ttlMs)}: ` +
        `--grace ${formatDuration(o.graceMs)} is too long for it, so the command gets ${formatDuration(graceMs)} between SIGTERM and SIGKILL`,
    );
  }
  // Start stopping early enough that SIGTERM + grace + SIGKILL are done by the
  // loss deadline: after it, another candidate may already be leader.
  const stopSoon = leadership.signalAhead(graceMs + stopMarginMs);
  if (stopSoon.aborted) {
    logger.error(
      { event: 'deadline-too-close', graceMs },
      'the loss deadline is already closer than --grace: the granted session timeout / TTL is too short for it; not starting the command',
    );
    return { kind: 'stopped', status: 0, loss: lossOf(stopSoon) };
  }
  const result = await supervise({
    gate: gates.take(),
    token: leadership.token,
    argv0: o.argv[0],
    args: o.argv.slice(1),
    graceMs,
    stopSoon,
    stopNow: urgent(leadership.signal),
    deadline: () => leadership.deadline,
    holdEveryMs: watchdogHoldMs(leadership.timeoutMs, graceMs),
    kill: deps.kill,
    ...(deps.groupAlive ? { groupAlive: deps.groupAlive } : {}),
    signals: ctx.signals.term,
    watchdog: ctx.watchdog,
    logger,
    clock: deps.clock,
  });
  return result.kind === 'stopped' ? { ...result, loss: lossOf(stopSoon) } : result;
}

/**
 * How often the watchdog hears the deadline: a tenth of the TTL, and a third
 * of --grace + stopMarginMs (20 ms to 1 s). The deadline it holds is at most
 * that stale. Stale means earlier than the real one when an answer moved the
 * deadline on: a late answer just before `elect` would have begun to stop
 * the command reaches the watchdog well before its old deadline. Stale means
 * later only when ZooKeeper shortens the timeout, for that moment; `elect`
 * itself then stops the command by the new deadline.
 */
export function watchdogHoldMs(ttlMs: number, graceMs: number): number {
  return Math.min(1_000, Math.max(20, Math.round(Math.min(ttlMs / 10, (graceMs + stopMarginMs) / 3))));
}

/**
 * The environment the command's gate is forked with: ours, plus who it runs
 * for — all of the command's but ELECT_TOKEN, which the gate, forked before
 * the term's token is known, exports when it is opened (gate.ts).
 */
export function gateEnv(env: NodeJS.ProcessEnv, o: RunOptions): NodeJS.ProcessEnv {
  const { ELECT_TOKEN: _inherited, ...rest } = env;
  return {
    ...rest,
    ELECT_BACKEND: o.backend,
    ELECT_ELECTION: o.election,
    ELECT_ID: o.id,
    ELECT_LEADER: '1',
  };
}

/**
 * Aborts with leadership's end, except when leadership was yielded to
 * another candidate (preempted, or a handover asked for from elsewhere):
 * then nobody leads until we resign, so the command is stopped gracefully —
 * SIGTERM, and SIGKILL only after --grace, through `stopSoon`.
 */
function urgent(ended: AbortSignal): AbortSignal {
  const urgent = new AbortController();
  const onEnd = (): void => {
    const reason: unknown = ended.reason;
    if (!isLoss(reason) || (reason.reason !== 'preempted' && reason.reason !== 'handover')) urgent.abort(reason);
  };
  if (ended.aborted) onEnd();
  else ended.addEventListener('abort', onEnd, { once: true });
  return urgent.signal;
}

/** Why the stop began: the signal's reason (leadership about to end, or ended), or the watchdog's deadline. */
function lossOf(signal: AbortSignal): LeadershipLostError {
  const reason: unknown = signal.reason;
  if (isLoss(reason)) return reason;
  // The watchdog killed the command at the deadline before our own timer
  // fired (we were paused): the loss is the deadline's.
  return new LeadershipLostError('deadline', 'the loss deadline passed before elect could act (was it paused?)');
}

function isLoss(error: unknown): error is LeadershipLostError {
  return isElectError(error) && error.code === ErrorCode.LeadershipLost;
}

function interruptedCode(signal: AbortSignal): number {
  return signalExitCode(signalNumber(signal.reason as NodeJS.Signals));
}
