/**
 * Signals to a whole process group. The child runs in its own group (spawned
 * detached), so `kill(-pgid)` reaches it and everything it started — unless a
 * descendant deliberately moves itself to another group or session, which no
 * supervisor short of cgroups can follow.
 */
import { constants } from 'node:os';
import type { KillFn } from './deps.js';

/** The signals `elect` passes on to the command's group while it runs. */
export const forwardedSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal];
}

/** Sends `signal` to group `pgid`. False when the group no longer exists. */
export function signalGroup(kill: KillFn, pgid: number, signal: NodeJS.Signals): boolean {
  try {
    kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while some process of group `pgid` exists. Zombies count until their
 * new parent (init or a subreaper) reaps them, so callers bound their wait.
 */
export function groupExists(kill: KillFn, pgid: number): boolean {
  try {
    kill(-pgid, 0);
    return true;
  } catch (error) {
    // EPERM: something exists that we may not signal; treat it as present.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The status a shell would report: the exit code, or 128 + n for a signal. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + signalNumber(signal);
  return 128;
}
