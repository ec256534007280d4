import { describe, expect, it } from '@jest/globals';
import { systemClock } from '@elect/core';
import { ManualClock } from '@elect/core/testing';
import { spawnGated } from '../../src/gate.js';
import { supervise, type TermOptions } from '../../src/supervise.js';
import { FakeProcesses, FakeSignals, FakeWatchdog, quietLogger, type FakeGroupOptions } from './fakes.js';

function setup(group: FakeGroupOptions = {}) {
  const processes = new FakeProcesses(group);
  const signals = new FakeSignals();
  const watchdog = new FakeWatchdog();
  const soon = new AbortController();
  const now = new AbortController();
  const clock = { deadline: systemClock.now() + 60_000 };
  const options: TermOptions = {
    // Forked ahead of the term, as elect does while it campaigns.
    gate: spawnGated(processes.spawn, '/usr/bin/worker', ['--once'], { cwd: '/srv', env: { ELECT_LEADER: '1' } }),
    token: 7n,
    argv0: 'worker',
    args: ['--once'],
    graceMs: 100,
    stopSoon: AbortSignal.any([soon.signal, now.signal]),
    stopNow: now.signal,
    deadline: () => clock.deadline,
    holdEveryMs: 5,
    kill: processes.kill,
    signals,
    watchdog,
    logger: quietLogger,
    groupAlive: (pgid) => processes.groupAlive(pgid),
    clock: systemClock,
  };
  return { processes, signals, watchdog, soon, now, clock, options };
}

describe('supervise', () => {
  it('runs the command detached in its own group, with its token, and lets it start only once it is guarded', async () => {
    const { processes, watchdog, options } = setup();
    // A watchdog that takes its time to hear of the group.
    let told = (): void => {};
    const slow = {
      arm: (pgid: number) => watchdog.arm(pgid).then(() => new Promise<void>((resolve) => (told = resolve))),
      hold: (deadline: number) => watchdog.hold(deadline),
      disarm: () => watchdog.disarm(),
      close: () => watchdog.close(),
    };
    const term = supervise({ ...options, watchdog: slow });
    expect(processes.spawned).toEqual([
      {
        file: '/bin/sh',
        args: ['-c', expect.stringContaining('exec "$0" "$@"'), '/usr/bin/worker', '--once'],
        options: { cwd: '/srv', env: { ELECT_LEADER: '1' }, stdio: ['inherit', 'inherit', 'inherit', 'pipe'], detached: true },
      },
    ]);
    // The watchdog is told at once; the gate opens only once it has heard.
    expect(watchdog.log).toEqual(['arm 4242']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(processes.command()).toEqual({ argv: ['/usr/bin/worker', '--once'], opened: false });
    told();
    await new Promise((resolve) => setImmediate(resolve));
    expect(processes.command()?.opened).toBe(true);
    expect(processes.commandEnv()).toEqual({ ELECT_LEADER: '1', ELECT_TOKEN: '7' });
    processes.child?.exit(3);
    await expect(term).resolves.toEqual({ kind: 'exited', status: 3 });
    expect(watchdog.log).toEqual(['arm 4242', 'disarm']);
  });

  it('a gate that dies just as its term begins (killed, not yet reaped) ends the term with its status', async () => {
    const { processes, watchdog, options } = setup();
    // Killed while elect campaigned (before the term began).
    processes.child?.exit(null, 'SIGKILL');
    await expect(supervise(options)).resolves.toEqual({ kind: 'exited', status: 137 });
    expect(watchdog.log).toEqual(['arm 4242', 'disarm']);
  });

  it('keeps the watchdog told where the deadline is, from arm to disarm', async () => {
    const { processes, watchdog, clock, options } = setup();
    const term = supervise(options);
    expect(watchdog.armedAt).toEqual([clock.deadline]);
    const moved = clock.deadline + 1_000;
    clock.deadline = moved;
    while (!watchdog.held.includes(moved)) await new Promise((resolve) => setTimeout(resolve, 5));
    processes.child?.exit(0);
    await expect(term).resolves.toEqual({ kind: 'exited', status: 0 });
    const heard = watchdog.held.length;
    // Not synchronisation: a negative check's window, in which a deadline
    // update sent after the disarm would show up.
    await new Promise((resolve) => setTimeout(resolve, 25));
    expect(watchdog.held.length).toBe(heard);
  });

  it('a command SIGKILLed with the deadline behind us (the watchdog, while we were paused) counts as stopped, not exited', async () => {
    const { processes, clock, watchdog, options } = setup();
    const term = supervise(options);
    // Our own deadline timer has not fired yet (stopNow not aborted); the
    // deadline we last gave the watchdog has passed.
    const passed = systemClock.now() - 1;
    clock.deadline = passed;
    while (!watchdog.held.includes(passed)) await new Promise((resolve) => setTimeout(resolve, 5));
    processes.child?.exit(null, 'SIGKILL');
    await expect(term).resolves.toEqual({ kind: 'stopped', status: 137 });
  });

  it('a command SIGKILLed by someone else before the deadline has exited, as any command may', async () => {
    const { processes, options } = setup();
    const term = supervise(options);
    await new Promise((resolve) => setImmediate(resolve));
    processes.child?.exit(null, 'SIGKILL');
    await expect(term).resolves.toEqual({ kind: 'exited', status: 137 });
  });

  it('reports a signal death as 128 + n', async () => {
    const { processes, options } = setup();
    const term = supervise(options);
    processes.child?.exit(null, 'SIGSEGV');
    await expect(term).resolves.toEqual({ kind: 'exited', status: 139 });
  });

  it('forwards each of the six signals to the process group, and stops forwarding after', async () => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
      const { processes, signals, options } = setup();
      const term = supervise(options);
      signals.send(signal);
      await expect(term).resolves.toEqual({ kind: 'exited', status: 128 + (await import('node:os')).constants.signals[signal] });
      expect(processes.kills[0]).toEqual([-4242, signal]);
      expect(signals.listenerCount(signal)).toBe(0);
    }
  });

  it('on "leadership ending soon": SIGTERM to the group, and the command is gone', async () => {
    const { processes, soon, options } = setup();
    const term = supervise(options);
    soon.abort();
    await expect(term).resolves.toEqual({ kind: 'stopped', status: 143 });
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
  });

  it('escalates to SIGKILL after the grace period for a command that ignores SIGTERM, not a moment before', async () => {
    const { processes, soon, options } = setup({ ignoresTerm: true });
    const clock = new ManualClock();
    const term = supervise({ ...options, graceMs: 150, clock, deadline: () => clock.now() + 60_000 });
    soon.abort();
    await new Promise((resolve) => setImmediate(resolve));
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
    clock.advance(149);
    await new Promise((resolve) => setImmediate(resolve));
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
    clock.advance(1);
    await expect(term).resolves.toEqual({ kind: 'stopped', status: 137 });
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
  });

  it('kills at once, without grace, when leadership is already gone', async () => {
    const { processes, now, options } = setup({ ignoresTerm: true });
    const term = supervise({ ...options, graceMs: 60_000 });
    now.abort();
    await expect(term).resolves.toEqual({ kind: 'stopped', status: 137 });
    expect(processes.signalsSent()).toEqual(['SIGKILL']);
  });

  it('cuts the grace short when leadership is lost during it', async () => {
    const { processes, soon, now, options } = setup({ ignoresTerm: true });
    const term = supervise({ ...options, graceMs: 60_000 });
    soon.abort();
    await new Promise((resolve) => setImmediate(resolve));
    now.abort();
    await expect(term).resolves.toEqual({ kind: 'stopped', status: 137 });
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
  });

  it('stops what the command left behind in its group when it exits', async () => {
    const { processes, options } = setup({ leftovers: 'die-on-term' });
    const term = supervise(options);
    processes.child?.exit(0);
    await expect(term).resolves.toEqual({ kind: 'exited', status: 0 });
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT']);
  });

  it('SIGKILLs leftovers that ignore SIGTERM, after the grace period', async () => {
    const { processes, options } = setup({ leftovers: 'ignore-term' });
    const term = supervise(options);
    processes.child?.exit(0);
    await expect(term).resolves.toEqual({ kind: 'exited', status: 0 });
    expect(processes.signalsSent()).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
  });

  it('reports a command that cannot be spawned as 127 / 126', async () => {
    const { watchdog, options } = setup({ spawnFails: true });
    await expect(supervise(options)).resolves.toEqual({ kind: 'failed', code: 127, message: 'worker: command not found' });
    expect(watchdog.log).toEqual([]);
  });
});
