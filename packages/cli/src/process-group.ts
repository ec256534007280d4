/**
 * Signals to a whole process group. The child runs in its own group (spawned
 * detached), so `kill(-pgid)` reaches it and everything it started — unless a
 * descendant deliberately moves itself to another group or session, which no
 * supervisor short of cgroups can follow.
 */
import { readdirSync, readFileSync } from 'node:fs';
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
 * True while some process of group `pgid` exists, as `kill(-pgid, 0)` sees
 * it. That counts zombies, which linger for as long as their new parent does
 * not reap them (some container inits never do): see `groupAlive`.
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

/**
 * True while group `pgid` has a member that is not a zombie. Where /proc
 * exists it is read to leave zombies out: a dead process holds no lock, no
 * socket, no file, so it does not count as work still running.
 */
export function groupAlive(kill: KillFn, pgid: number): boolean {
  if (!groupExists(kill, pgid)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // "pid (comm) state ppid pgrp ..." — comm may contain anything, so split after it.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
}

/** The status a shell would report: the exit code, or 128 + n for a signal. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + signalNumber(signal);
  return 128;
}
