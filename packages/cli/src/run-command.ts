/**
 * `elect run`: campaign, run the command while leader, and turn whatever
 * happens into an exit code. One round is one campaign plus one term (see
 * supervise.ts); with `--rejoin` a round that lost leadership is followed by
 * another.
 *
 * Signals (signals.ts): while the command runs they are passed on to its
 * process group (supervise.ts). At any other moment — connecting,
 * campaigning, between rounds, cleaning up after the command — SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT end `elect` with 128 + n: a campaign is given
 * up at once (our queue entry is removed); a cleanup is finished first, and
 * no new campaign follows. SIGUSR1/SIGUSR2 are ignored outside a term.
 */
import { isElectError, pause, runWhileLeader, type Election, type Leadership, type LossReason } from '@elect/core';
import type { RunDeps, Watchdog } from './deps.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import type { Logger } from './log.js';
import { formatDuration } from './duration.js';
import { graceFor, stopMarginMs, type RunOptions } from './options.js';
import { signalNumber } from './process-group.js';
import type { SignalRouter } from './signals.js';
import { supervise, type TermResult } from './supervise.js';

type Round =
  | { kind: 'done'; code: number }
  /** Leadership ended under the command (it was stopped): rejoin or exit 75. */
  | { kind: 'lost'; reason: string };

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

/** Runs rounds until one ends the process; returns the exit code. */
export async function runRounds(ctx: RunContext): Promise<number> {
  const { options: o, logger } = ctx;
  const { interrupted } = ctx.signals;
  for (;;) {
    const round = await runRound(ctx);
    // A signal that was not the command's ends `elect`, whatever the round did.
    if (round.kind === 'done') return interrupted.aborted ? interruptedCode(interrupted) : round.code;
    if (interrupted.aborted || !o.rejoin) {
      const code = interrupted.aborted ? interruptedCode(interrupted) : ExitCode.LeadershipLost;
      logger.error({ event: 'lost', reason: round.reason }, `leadership lost (${round.reason}); the command was stopped; exiting ${code}`);
      return code;
    }
    logger.warn({ event: 'lost', reason: round.reason }, `leadership lost (${round.reason}); the command was stopped; campaigning again`);
    // A short pause, so that a fault which ends every term at once (a server
    // granting a session too short for --grace) does not spin.
    if (!(await pause(ctx.deps.clock, Math.min(1_000, o.ttlMs / 10), interrupted))) return interruptedCode(interrupted);
  }
}

async function runRound(ctx: RunContext): Promise<Round> {
  const { options: o, logger } = ctx;
  const { interrupted } = ctx.signals;
  // What ends the campaign: --wait, or a signal. Once the command has started
  // neither may stop it (signals are the command's then, and a signal after
  // its exit ends `elect` only after the cleanup: see runRounds).
  const giveUp = new AbortController();
  const clock = ctx.deps.clock;
  const cancelWait = o.waitMs === undefined ? undefined : clock.schedule(() => giveUp.abort(new Error('--wait expired')), o.waitMs);
  const onInterrupt = (): void => giveUp.abort(interrupted.reason);
  if (interrupted.aborted) onInterrupt();
  else interrupted.addEventListener('abort', onInterrupt, { once: true });
  const campaignOver = (): void => {
    cancelWait?.();
    interrupted.removeEventListener('abort', onInterrupt);
  };
  let term: Promise<TermResult> | undefined;
  let ended: TermResult | undefined;
  let lossReason: LossReason | undefined;
  let held: Leadership | undefined;
  logger.info({ event: 'campaigning', waitMs: o.waitMs }, 'campaigning');
  try {
    await runWhileLeader(
      ctx.election,
      async (leadership: Leadership) => {
        campaignOver();
        if (giveUp.signal.aborted) return;
        held = leadership;
        term = runTerm(ctx, leadership);
        ended = await term;
        lossReason = reasonOf(leadership);
      },
      {
        id: o.id,
        ...(o.value === undefined ? {} : { value: o.value }),
        signal: giveUp.signal,
        rejoin: false,
        // Our task stops the command within grace + margin (plus a moment for
        // the kernel); past this runWhileLeader reports a stuck task.
        settleTimeoutMs: o.graceMs + stopMarginMs + 5_000,
        clock,
      },
    );
  } catch (error) {
    // Whatever runWhileLeader decided, the command must be gone before we
    // exit or campaign again.
    if (term) ended = await term;
    if (ended?.kind === 'exited' || ended?.kind === 'failed') {
      logger.warn({ err: error }, 'could not resign cleanly after the command ended; the server will drop our entry when the session/lease ends');
    } else if (ended?.kind === 'stopped') {
      if (isLoss(error)) return { kind: 'lost', reason: error.reason };
      // runWhileLeader gave up waiting for the stop (it took longer than
      // settleTimeoutMs) and left our entry: remove it now that the command is gone.
      await held?.resign().catch((cause: unknown) => logger.warn({ err: cause }, 'could not remove our entry'));
      return { kind: 'lost', reason: lossReason ?? (error as Error).message };
    } else if (interrupted.aborted) {
      return { kind: 'done', code: interruptedCode(interrupted) };
    } else if (giveUp.signal.aborted) {
      logger.error({ event: 'wait-expired', waitMs: o.waitMs }, `not elected within --wait; exiting ${ExitCode.WaitExpired}`);
      return { kind: 'done', code: ExitCode.WaitExpired };
    } else {
      throw error;
    }
  } finally {
    campaignOver();
  }
  if (ended === undefined) {
    // The task saw the campaign given up just as it won.
    if (interrupted.aborted) return { kind: 'done', code: interruptedCode(interrupted) };
    logger.error({ event: 'wait-expired' }, `not elected within --wait; exiting ${ExitCode.WaitExpired}`);
    return { kind: 'done', code: ExitCode.WaitExpired };
  }
  if (ended.kind === 'failed') return { kind: 'done', code: ended.code };
  if (ended.kind === 'exited') {
    logger.info({ event: 'done', status: ended.status }, `resigned; exiting with the command's status ${ended.status}`);
    return { kind: 'done', code: ended.status };
  }
  return { kind: 'lost', reason: lossReason ?? 'the loss deadline was near' };
}

/** One term: the command runs under `leadership` until it exits or leadership ends. */
async function runTerm(ctx: RunContext, leadership: Leadership): Promise<TermResult> {
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
    return { kind: 'stopped', status: 0 };
  }
  return supervise({
    file: ctx.file,
    argv0: o.argv[0],
    args: o.argv.slice(1),
    env: childEnv(deps.env, o, leadership),
    cwd: deps.cwd,
    graceMs,
    stopSoon,
    stopNow: leadership.signal,
    deadline: () => leadership.deadline,
    holdEveryMs: watchdogHoldMs(leadership.timeoutMs, graceMs),
    spawn: deps.spawn,
    kill: deps.kill,
    signals: ctx.signals.term,
    watchdog: ctx.watchdog,
    logger,
    clock: deps.clock,
  });
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

/** The command's environment: ours, plus who it runs for and its fencing token. */
export function childEnv(env: NodeJS.ProcessEnv, o: RunOptions, leadership: Pick<Leadership, 'token'>): NodeJS.ProcessEnv {
  return {
    ...env,
    ELECT_BACKEND: o.backend,
    ELECT_ELECTION: o.election,
    ELECT_ID: o.id,
    ELECT_TOKEN: leadership.token.toString(),
    ELECT_LEADER: '1',
  };
}

function reasonOf(leadership: Leadership): LossReason | undefined {
  const reason: unknown = leadership.signal.reason;
  return isLoss(reason) ? reason.reason : undefined;
}

function isLoss(error: unknown): error is { reason: LossReason } & Error {
  return isElectError(error) && error.code === 'ELECT_LEADERSHIP_LOST';
}

function interruptedCode(signal: AbortSignal): number {
  return signalExitCode(signalNumber(signal.reason as NodeJS.Signals));
}
