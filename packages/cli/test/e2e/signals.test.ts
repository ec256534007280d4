/**
 * Signals to `elect` reach the command's process group, and the command's
 * exit status comes back as `elect`'s own, 128 + n for a signal.
 */
import { constants } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { Elect, workerScript } from '../support/elect.js';
import { untilGone } from '../support/proc.js';
import { backends, useScratch, useServer } from '../support/server.js';

describe.each(backends)('%s: signals and exit status', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  const leader = async (label: string, env: Record<string, string> = {}): Promise<Elect> => {
    const s = scratch();
    const elect = new Elect(label, [...server.args(server.election(label)), '--', workerScript], { ...s.env, ...env });
    await elect.waitLine(/^start /, `${label} to start its command`);
    return elect;
  };

  it('SIGTERM and SIGINT reach the command, which handles them; elect exits with its status', async () => {
    const term = await leader('term');
    term.kill('SIGTERM');
    await expect(term.waitExit()).resolves.toEqual({ code: 143, signal: null });
    expect(term.stdout).toContainEqual(expect.stringMatching(/^stop .* TERM$/));

    const int = await leader('int');
    int.kill('SIGINT');
    await expect(int.waitExit()).resolves.toEqual({ code: 130, signal: null });
    expect(int.stdout).toContainEqual(expect.stringMatching(/^stop .* INT$/));

    const custom = await leader('custom', { WORKER_MODE: 'trap-exit:42' });
    custom.kill('SIGTERM');
    await expect(custom.waitExit()).resolves.toEqual({ code: 42, signal: null });
  });

  it('a command killed by a forwarded signal makes elect exit 128 + n (SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2)', async () => {
    for (const signal of ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
      // ignore-term: the worker handles only TERM, so these kill it.
      const elect = await leader(signal.toLowerCase(), { WORKER_MODE: 'ignore-term' });
      elect.kill(signal);
      await expect(elect.waitExit()).resolves.toEqual({ code: 128 + constants.signals[signal], signal: null });
    }
  });

  it("the command's own exit status is elect's", async () => {
    const s = scratch();
    for (const status of [0, 3, 255]) {
      const elect = new Elect(`exit ${status}`, [...server.args(server.election('exit')), '--', workerScript], { ...s.env, WORKER_MODE: `exit:${status}` });
      await expect(elect.waitExit()).resolves.toEqual({ code: status, signal: null });
    }
  });

  it('grandchildren die with the group when elect is told to stop', async () => {
    const elect = await leader('grandchildren', { WORKER_MODE: 'grandchild' });
    const grandchild = Number((await elect.waitLine(/^grandchild \d+$/, 'the grandchild')).split(' ')[1]);
    elect.kill('SIGTERM');
    await expect(elect.waitExit()).resolves.toEqual({ code: 143, signal: null });
    await untilGone(grandchild, 2_000);
  });
});
