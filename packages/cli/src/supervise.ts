/**
 * One term of leadership: run the command in its own process group and wait
 * on the three things that can happen (the shape of `consul lock`):
 *
 *   1. a signal arrives for `elect`   → pass it on to the group, keep waiting
 *      (until the command has exited: see signals.ts);
 *   2. leadership is about to end     → stop the group: SIGTERM, SIGKILL after
 *      the grace period (at once if leadership is already gone);
 *   3. the command exits              → collect its status, stop whatever it
 *      left behind in its group.
 *
 * It resolves only when the command has exited: the caller resigns (or gives
 * up leadership) after that, never before, so the work never outlives the
 * leadership it ran under. The command starts only once the watchdog guards
 * its group (gate.ts), so it cannot outlive `elect` either.
 */
import { type Clock, sleep, whenAborted } from '@elect/core';
import type { SignalSource, KillFn, Watchdog } from './deps.js';
import { spawnFailure } from './command.js';
import type { GateExit, Gated } from './gate.js';
import { exitStatus, forwardedSignals, groupAlive, signalGroup } from './process-group.js';
import type { Logger } from './log.js';

export interface TermOptions {
  /** The command, forked and waiting at its gate (gate.ts): its pid is the group id. */
  gate: Gated;
  /** The fencing token of the term, the command's ELECT_TOKEN. */
  token: bigint;
  /** The name the command was given as, and its arguments (for logs). */
  argv0: string;
  args: readonly string[];
  graceMs: number;
  /** Aborts when leadership is about to end: SIGTERM, then SIGKILL after `graceMs`. */
  stopSoon: AbortSignal;
  /** Aborts when leadership has ended: SIGKILL without waiting. */
  stopNow: AbortSignal;
  /** The loss deadline now (core's clock), which the watchdog enforces should we be unable to. */
  deadline: () => number;
  /** How often the watchdog hears where the deadline has moved. */
  holdEveryMs: number;
  kill: KillFn;
  /** Signals to `elect`, which the term takes while the command runs (`SignalRouter.term`). */
  signals: SignalSource;
  watchdog: Watchdog;
  logger: Logger;
  /** Whether group `pgid` still has live members (default: `groupAlive`, which skips zombies). */
  groupAlive?: (pgid: number) => boolean;
  /** The clock of `deadline` and of every wait here (core's clock). */
  clock: Clock;
}

export type TermResult =
  /** The command ended by itself (perhaps after a forwarded signal). */
  | { kind: 'exited'; status: number }
  /** We stopped it because leadership was ending; `status` is how it ended. */
  | { kind: 'stopped'; status: number }
  /** It could not be started (126 / 127). */
  | { kind: 'failed'; code: number; message: string };

type Exit = GateExit;

/** While the group still has members after the command exited, look again this often. */
const groupPollMs = 50;
/** After SIGKILL, how long we wait at most for the group's last members to vanish. */
const killSettleMs = 1_000;

export async function supervise(o: TermOptions): Promise<TermResult> {
  // The command waits at a gate until the watchdog knows its group (gate.ts).
  const { child } = o.gate;
  const pgid = child.pid;
  const log = o.logger.child({ child: pgid });
  // Signals to `elect` are the command's from its spawn until its exit is
  // seen, and not a moment longer: after that there is nobody to pass them
  // on to, and they are `elect`'s own again (signals.ts). A gate they end has
  // ended the command, and says so by its exit.
  const forward = (signal: NodeJS.Signals): void => {
    log.info({ event: 'forward', signal }, `forwarding ${signal} to the command's process group`);
    if (pgid !== undefined) signalGroup(o.kill, pgid, signal);
  };
  let forwarding = false;
  const forwardSignals = (on: boolean): void => {
    if (on === forwarding) return;
    forwarding = on;
    for (const signal of forwardedSignals) {
      if (on) o.signals.on(signal, forward);
      else o.signals.off(signal, forward);
    }
  };
  const exit = o.gate.exit.then((result) => {
    forwardSignals(false);
    return result;
  });
  if (pgid === undefined) {
    const result = await exit;
    const failure = 'error' in result ? spawnFailure(result.error, o.argv0) : { code: 126, message: `${o.argv0}: cannot start` };
    o.logger.error({ event: 'spawn-failed', code: failure.code }, failure.message);
    return { kind: 'failed', ...failure };
  }
  const alive = o.groupAlive ?? ((group: number) => groupAlive(o.kill, group));
  forwardSignals(true);
  // The watchdog follows the deadline; should we freeze, it kills the group then.
  let held = o.deadline();
  let stopHolding = o.clock.schedule(function hold() {
    held = o.deadline();
    o.watchdog.hold(held);
    stopHolding = o.clock.schedule(hold, o.holdEveryMs);
  }, o.holdEveryMs);
  try {
    await o.watchdog.arm(pgid, held);
    log.info({ event: 'started', argv: [o.argv0, ...o.args] }, 'command started');
    o.gate.open(o.token);
    const stopping = whenAborted(o.stopSoon);
    const first = await Promise.race([exit, stopping.promise.then(() => 'aborted' as const)]);
    stopping.dispose();
    if (first !== 'aborted' && killedAtDeadline(o, first, held)) {
      // We were not running when the deadline came (paused, or an event loop
      // stuck for that long): the watchdog did our job, without grace.
      log.warn({ event: 'stopped', by: 'watchdog', status: statusOf(first) }, 'the watchdog killed the command at the loss deadline: elect could not act in time (was it paused?)');
      return { kind: 'stopped', status: statusOf(first) };
    }
    if (first !== 'aborted') {
      const status = statusOf(first);
      log.info({ event: 'exited', status }, `command exited with status ${status}`);
      if (alive(pgid)) {
        // It left processes behind. They ran under our leadership and must
        // not outlive it: stop them like the command itself.
        log.warn({ event: 'leftovers' }, 'the command exited but left processes in its group: stopping them');
        await stopGroup(o, pgid, exit, AbortSignal.any([o.stopSoon, o.stopNow]), log, alive);
      }
      return { kind: 'exited', status };
    }
    const status = statusOf(await stopGroup(o, pgid, exit, o.stopNow, log, alive));
    log.info({ event: 'stopped', status }, `command stopped (status ${status})`);
    return { kind: 'stopped', status };
  } finally {
    stopHolding();
    forwardSignals(false);
    o.watchdog.disarm();
  }
}

/**
 * The command died of SIGKILL with the deadline we last gave the watchdog
 * behind us: the watchdog's doing. (On resuming from a pause the exit may be
 * seen before our own deadline timer has fired, or after a late answer moved
 * the deadline on, so it is the watchdog's deadline that is read.)
 */
function killedAtDeadline(o: TermOptions, exit: Exit, held: number): boolean {
  if ('error' in exit || exit.signal !== 'SIGKILL') return false;
  return o.stopNow.aborted || held <= o.clock.now();
}

/**
 * SIGTERM to the group, then SIGKILL once `graceMs` has passed or `urgent`
 * aborts. Resolves with the command's exit once it has exited and its group is
 * empty (or the group was SIGKILLed: nothing survives that).
 */
async function stopGroup(
  o: TermOptions,
  pgid: number,
  exit: Promise<Exit>,
  urgent: AbortSignal,
  log: Logger,
  alive: (pgid: number) => boolean,
): Promise<Exit> {
  let exited: Exit | undefined;
  void exit.then((result) => (exited = result));
  if (!urgent.aborted) {
    log.info({ event: 'stop', signal: 'SIGTERM', graceMs: o.graceMs }, 'sending SIGTERM to the command\'s process group');
    signalGroup(o.kill, pgid, 'SIGTERM');
    // A stopped (SIGSTOP / ^Z) process acts on SIGTERM only once continued.
    signalGroup(o.kill, pgid, 'SIGCONT');
  }
  const until = o.clock.now() + o.graceMs;
  for (;;) {
    await Promise.resolve();
    if (urgent.aborted) break;
    if (exited && !alive(pgid)) return exited;
    const left = until - o.clock.now();
    if (left <= 0) break;
    // Before the command exits we wait for its exit; after, only the rest of
    // its group is left, which we cannot wait on, so look again shortly.
    const timeUp = new AbortController();
    const cancel = o.clock.schedule(() => timeUp.abort(), exited ? Math.min(groupPollMs, left) : left);
    const woken = whenAborted(AbortSignal.any([urgent, timeUp.signal]));
    await (exited ? woken.promise : Promise.race([exit, woken.promise]));
    woken.dispose();
    cancel();
  }
  log.warn({ event: 'stop', signal: 'SIGKILL' }, 'sending SIGKILL to the command\'s process group');
  signalGroup(o.kill, pgid, 'SIGKILL');
  const result = await exit;
  // SIGKILLed processes are gone within moments, but not at once: wait for the
  // last one, so that nothing of ours still holds a lock or a socket when the
  // caller resigns. Bounded, in case one is stuck in the kernel (state D).
  const settled = o.clock.now() + killSettleMs;
  while (alive(pgid) && o.clock.now() < settled) await sleep(o.clock, 5);
  return result;
}

function statusOf(exit: Exit): number {
  return 'error' in exit ? 126 : exitStatus(exit.code, exit.signal);
}
