/**
 * The supervisor and the watchdog with real processes (sh, sleep): process
 * groups, grandchildren and pipes behave as the kernel says, not as a fake
 * thinks. Fast: no servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '@elect/core';
import type { SpawnFn } from '../../src/deps.js';
import { gateFd, spawnGated } from '../../src/gate.js';
import { supervise } from '../../src/supervise.js';
import { startWatchdog } from '../../src/watchdog.js';
import { FakeSignals, FakeWatchdog, quietLogger } from './fakes.js';
import { alive, procStat, untilGone, waitForFile } from '../support/proc.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'elect-proc-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kill = (pid: number, signal: NodeJS.Signals | 0): void => {
  process.kill(pid, signal);
};

function term(script: string, graceMs = 2_000) {
  const soon = new AbortController();
  const result = supervise({
    gate: spawnGated(spawn as SpawnFn, '/bin/sh', ['-c', script], { cwd: dir, env: { PATH: process.env.PATH, DIR: dir } }),
    token: 7n,
    argv0: 'sh',
    args: ['-c', script],
    graceMs,
    stopSoon: soon.signal,
    stopNow: new AbortController().signal,
    deadline: () => systemClock.now() + 60_000,
    holdEveryMs: 1_000,
    kill,
    signals: new FakeSignals(),
    watchdog: new FakeWatchdog(),
    logger: quietLogger,
    clock: systemClock,
  });
  return { soon, result };
}

describe('supervise, real processes', () => {
  it('stopping the group also stops grandchildren', async () => {
    const file = path.join(dir, 'gc1');
    const { soon, result } = term(`sleep 300 & echo $! > gc1.tmp; mv gc1.tmp gc1; wait`);
    const grandchild = Number(await waitForFile(file));
    expect(alive(grandchild)).toBe(true);
    soon.abort();
    await expect(result).resolves.toEqual({ kind: 'stopped', status: 143 });
    await untilGone(grandchild);
  });

  it('a command that exits leaving a grandchild behind: the grandchild is stopped too', async () => {
    const file = path.join(dir, 'gc2');
    const { result } = term(`sleep 300 & echo $! > gc2.tmp; mv gc2.tmp gc2; exit 4`);
    await expect(result).resolves.toEqual({ kind: 'exited', status: 4 });
    await untilGone(Number(readFileSync(file, 'utf8')));
  });

  it('a group that traps SIGTERM is SIGKILLed after the grace period', async () => {
    const file = path.join(dir, 'trap');
    const { soon, result } = term(`trap '' TERM; echo ready > trap; while :; do sleep 1; done`, 300);
    await waitForFile(file);
    soon.abort();
    await expect(result).resolves.toEqual({ kind: 'stopped', status: 137 });
  });
});

describe('the gate (the command starts only once guarded)', () => {
  const exitOf = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
    new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  it('never runs the command if elect dies before opening it', async () => {
    const marker = path.join(dir, 'gate-closed');
    const { child } = spawnGated(spawn as SpawnFn, '/bin/sh', ['-c', `echo ran > ${marker}`], { cwd: dir, env: { PATH: process.env.PATH } });
    const exited = exitOf(child);
    // What the kernel does when elect dies, however it dies: close its end.
    child.stdio[gateFd]?.destroy();
    await expect(exited).resolves.toEqual({ code: 1, signal: null });
    expect(() => readFileSync(marker)).toThrow();
  });

  it('let go unopened (elect leaves without leading), it exits and runs nothing', async () => {
    const marker = path.join(dir, 'gate-let-go');
    const gate = spawnGated(spawn as SpawnFn, '/bin/sh', ['-c', `echo ran > ${marker}`], { cwd: dir, env: { PATH: process.env.PATH } });
    expect(gate.ended).toBe(false);
    gate.close();
    await expect(gate.exit).resolves.toEqual({ code: 1, signal: null });
    expect(gate.ended).toBe(true);
    expect(() => readFileSync(marker)).toThrow();
  });

  it('the command gets the token it is opened with as ELECT_TOKEN, whatever the token was in the env it was forked with', async () => {
    const gate = spawnGated(spawn as SpawnFn, '/bin/sh', ['-c', 'printf %s "$ELECT_TOKEN" > token'], { cwd: dir, env: { PATH: process.env.PATH, ELECT_TOKEN: '3' } });
    gate.open(18446744073709551617n);
    await expect(gate.exit).resolves.toEqual({ code: 0, signal: null });
    expect(readFileSync(path.join(dir, 'token'), 'utf8')).toBe('18446744073709551617');
  });

  it('once opened, the command replaces the gate: same pid (the group id), without the gate\'s fd', async () => {
    const { child, open } = spawnGated(spawn as SpawnFn, '/bin/sh', ['-c', 'echo $$ > pid.tmp; ls /proc/$$/fd > fds; mv pid.tmp pid'], { cwd: dir, env: { PATH: process.env.PATH } });
    const exited = exitOf(child);
    expect(procStat(child.pid as number)).toMatchObject({ pgrp: child.pid, session: child.pid });
    open(1n);
    await expect(exited).resolves.toEqual({ code: 0, signal: null });
    expect(Number(await waitForFile(path.join(dir, 'pid')))).toBe(child.pid);
    expect(readFileSync(path.join(dir, 'fds'), 'utf8').split('\n')).not.toContain(String(gateFd));
  });

  it('passes the arguments through without a shell parsing them', async () => {
    const out = path.join(dir, 'args');
    const args = ['-c', 'printf "%s|" "$@" > "$0"', out, 'a b', '$HOME', '"q"', '*', ''];
    const { child, open } = spawnGated(spawn as SpawnFn, '/bin/sh', args, { cwd: dir, env: { PATH: process.env.PATH } });
    const exited = exitOf(child);
    open(1n);
    await expect(exited).resolves.toEqual({ code: 0, signal: null });
    expect(readFileSync(out, 'utf8')).toBe('a b|$HOME|"q"|*||');
  });
});

describe('watchdog', () => {
  let watchdogProc: ChildProcess | undefined;
  const capture: SpawnFn = (file, args, options) => {
    watchdogProc = spawn(file, args, options);
    return watchdogProc;
  };
  const group = (): ChildProcess => spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  const exitOf = (child: ChildProcess): Promise<NodeJS.Signals | null> =>
    new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));

  it('SIGKILLs the armed group when the pipe from elect closes (elect died)', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const child = group();
    const exited = exitOf(child);
    await watchdog.arm(child.pid as number);
    // What the kernel does when elect dies, however it dies: close its end.
    watchdogProc?.stdin?.destroy();
    await expect(exited).resolves.toBe('SIGKILL');
  });

  it('SIGKILLs the armed group at the deadline when elect says nothing more (elect is paused)', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const child = group();
    const exited = exitOf(child);
    const deadline = systemClock.now() + 300;
    await watchdog.arm(child.pid as number, deadline);
    await expect(exited).resolves.toBe('SIGKILL');
    // Never before the deadline: until then the leadership is ours.
    expect(systemClock.now()).toBeGreaterThanOrEqual(deadline);
    watchdog.close();
  });

  it('a hold moves the deadline; a disarmed group is left alone after its deadline', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const first = group();
    await watchdog.arm(first.pid as number, systemClock.now() + 200);
    watchdog.disarm();
    const second = group();
    const exited = exitOf(second);
    const armedAt = systemClock.now();
    await watchdog.arm(second.pid as number, armedAt + 200);
    const moved = armedAt + 600;
    watchdog.hold(moved);
    await expect(exited).resolves.toBe('SIGKILL');
    expect(systemClock.now()).toBeGreaterThanOrEqual(moved);
    // By now the first group's deadline is long past: disarmed, it lives.
    expect(alive(first.pid as number)).toBe(true);
    const firstExited = exitOf(first);
    first.kill('SIGKILL');
    await firstExited;
    watchdog.close();
  });

  it('a killed watchdog is replaced, and its pending timer shoots nothing: the group dies at the deadline the new one holds', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const first = watchdogProc as ChildProcess;
    const child = group();
    const exited = exitOf(child);
    await watchdog.arm(child.pid as number, systemClock.now() + 300);
    const firstGone = exitOf(first);
    first.kill('SIGKILL');
    await firstGone;
    const moved = systemClock.now() + 900;
    watchdog.hold(moved);
    await expect(exited).resolves.toBe('SIGKILL');
    expect(systemClock.now()).toBeGreaterThanOrEqual(moved);
    watchdog.close();
  });

  it('leaves a disarmed group alone and exits when closed', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const proc = watchdogProc as ChildProcess;
    const watchdogGone = exitOf(proc);
    const child = group();
    await watchdog.arm(child.pid as number);
    watchdog.disarm();
    watchdog.close();
    await watchdogGone;
    expect(alive(child.pid as number)).toBe(true);
    const exited = exitOf(child);
    child.kill('SIGKILL');
    await exited;
  });

  it('is detached: its own session, out of reach of signals to ours', async () => {
    const watchdog = await startWatchdog(capture, quietLogger);
    const pid = watchdogProc?.pid as number;
    expect(procStat(pid)).toMatchObject({ pgrp: pid, session: pid });
    watchdog.close();
  });
});
