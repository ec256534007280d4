/**
 * `elect` itself dies (SIGKILL: no handler runs, nothing is cleaned up). Its
 * command must not live on as a second leader: the watchdog kills the
 * command's whole group at once, and another candidate takes over once the
 * server has expired the dead candidate's session / lease.
 */
import { describe, expect, it } from '@jest/globals';
import { scaled } from '@elect/test';
import { Elect, workerScript } from '../support/elect.js';
import { alive, untilGone } from '../support/proc.js';
import { backends, ttlMs, useScratch, useServer } from '../support/server.js';

describe.each(backends)('%s: SIGKILL of the leading elect', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('its command and grandchildren die at once (watchdog); another candidate runs within the TTL bound', async () => {
    const s = scratch();
    const election = server.election('failover');
    const env = { ...s.env, WORKER_MODE: 'grandchild' };
    const a = new Elect('a', [...server.args(election, '--id', 'a'), '--', workerScript], env);
    await a.waitLine(/^start a /, 'a to start its command');
    const grandchild = Number((await a.waitLine(/^grandchild \d+$/, 'the grandchild')).split(' ')[1]);
    const b = new Elect('b', [...server.args(election, '--id', 'b'), '--', workerScript], env);
    await b.waitLog((r) => r.event === 'campaigning' && r.component === undefined, 'b to campaign');
    const child = a.childPid as number;
    expect(alive(child) && alive(grandchild)).toBe(true);

    const killedAt = performance.now();
    a.kill('SIGKILL');
    await untilGone(child, 2_000);
    await untilGone(grandchild, 2_000);
    const watchdogMs = performance.now() - killedAt;

    await b.waitLine(/^start b /, 'b to take over', ttlMs + 10_000);
    const failoverMs = performance.now() - killedAt;
    // The server gives a's place away a TTL after it last heard from a (zk
    // expires sessions on tick boundaries, etcd checks leases twice a second).
    expect(failoverMs).toBeLessThan(ttlMs + scaled(1_500));
    expect(watchdogMs).toBeLessThan(scaled(1_000));
    expect(s.markers().filter((m) => m.startsWith('OVERLAP'))).toEqual([]);
    process.stdout.write(`${backend}: watchdog ${Math.round(watchdogMs)} ms, failover ${Math.round(failoverMs)} ms (ttl ${ttlMs} ms)\n`);

    // b is SIGKILLed the moment its command has said it started — possibly
    // before b itself has run another instruction. Its command started only
    // once the watchdog knew its group (gate.ts), so nothing of b's survives.
    expect(await b.killAndReap()).toBeUndefined();
  });
});
