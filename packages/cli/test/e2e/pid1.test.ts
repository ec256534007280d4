/**
 * `elect` as process 1 of its PID namespace, as in a container started
 * without an init (`docker run image elect run -- job`). Every process
 * orphaned inside the namespace is then handed to `elect`, and Node reaps
 * only the children it spawned itself: anything else left to it stays a
 * zombie for as long as `elect` lives, and a container's pid limit is soon
 * reached. So nothing `elect` starts may orphan a process of its own.
 *
 * Needs root and util-linux's `unshare` (skipped with the reason otherwise).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { scaled } from '@elect/test';
import { Elect, workerScript } from '../support/elect.js';
import { procStat } from '../support/proc.js';
import { backends, ttlMs, useScratch, useServer } from '../support/server.js';

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for a PID namespace';
  try {
    execFileSync('unshare', ['--fork', '--pid', '--kill-child', 'true'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `cannot run unshare --fork --pid here (${(error as Error).message.split('\n')[0]})`;
  }
}

/** The pids whose parent is `pid`, from /proc (zombies included). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && procStat(Number(name))?.ppid === pid)
    .map(Number);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

const reason = unavailable();
const describeIf = reason === undefined ? describe : describe.skip;
const backend = backends[0] as (typeof backends)[number];

describeIf(`${backend}: elect as process 1 of its PID namespace${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('leaves no zombie behind while its watchdog follows the deadline', async () => {
    const s = scratch();
    const election = server.election('pid1');
    const a = new Elect('a', [...server.args(election, '--id', 'a'), '--', workerScript], s.env, ['unshare', '--fork', '--pid', '--kill-child', '--']);
    await a.waitLine(/^start a /, 'a to start its command');
    const [elect] = childrenOf(a.pid);
    expect(cmdline(elect as number)).toContain('elect.js');
    const watchdog = childrenOf(elect as number).find((pid) => cmdline(pid).startsWith('/bin/sh -c pg=0'));
    expect(watchdog).toBeDefined();

    // Each move of the deadline replaces the watchdog's timer (a subshell
    // and its `sleep`). There is no event for that outside the watchdog, so
    // look at /proc on each turn of a short interval until the timer has been
    // replaced five times (a few TTLs: the deadline moves several times a
    // TTL), or until a zombie shows up.
    const timers = new Set<number>();
    const zombies = (): string[] => childrenOf(elect as number).filter((pid) => procStat(pid)?.state === 'Z').map((pid) => `${pid} ${cmdline(pid) || '(zombie)'}`);
    const until = performance.now() + scaled(5 * ttlMs);
    while (timers.size < 6 && zombies().length === 0 && performance.now() < until) {
      for (const pid of childrenOf(watchdog as number)) timers.add(pid);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(zombies()).toEqual([]);
    expect(timers.size).toBeGreaterThanOrEqual(6);

    // unshare ignores SIGTERM while it waits: signal elect itself. unshare
    // exits with elect's status.
    process.kill(elect as number, 'SIGTERM');
    await expect(a.waitExit()).resolves.toEqual({ code: 143, signal: null });
  });
});
