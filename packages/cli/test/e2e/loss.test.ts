/**
 * Leadership lost while the command runs. Two ways:
 *   - the network between `elect` and the server goes silent (the harness
 *     proxy blackholes it) for longer than the TTL: the server expires the
 *     session / lease and hands leadership to the next candidate. `elect`
 *     must have stopped its command before that, on its own clock;
 *   - the server ends the session / lease while `elect` is connected (forced
 *     expiry, lease revoke): `elect` kills the command at once, and with
 *     --rejoin campaigns again.
 */
import { describe, expect, it } from '@jest/globals';
import { expireSessionById, revokeLease, startProxy, type Proxy } from '@elect/test';
import { Elect, workerScript } from '../support/elect.js';
import { backends, ttlMs, useScratch, useServer, type Backend, type ServerHandle } from '../support/server.js';


/** Ends the session (zk) or revokes the lease (etcd) that `elect` logged when it connected. */
async function endSessionOnServer(backend: Backend, server: ServerHandle, elect: Elect): Promise<void> {
  if (backend === 'zk') {
    const connected = await elect.waitLog((r) => r.component === backend && r.event === 'connected', 'the connected record');
    await expireSessionById(server.connect, connected.session as string);
    return;
  }
  // The first campaign opened the session (the lease).
  const opened = await elect.waitLog((r) => r.component === backend && r.event === 'session-opened', 'the session-opened record');
  await revokeLease(server.cluster.members[0]!, opened.lease as string);
}

describe.each(backends)('%s: leadership lost', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  async function cutScenario(label: string, aFlags: string[], workerMode: string) {
    const s = scratch();
    const election = server.election(label);
    const member = server.cluster.members[0];
    if (!member) throw new Error('no member');
    const proxy: Proxy = await startProxy({ host: member.host, port: member.clientPort });
    try {
      const viaProxy = backend === 'zk' ? proxy.address : `http://${proxy.address}`;
      const aArgs = server.args(election, '--id', 'a', ...aFlags).map((arg) => (arg === server.connect ? viaProxy : arg));
      const a = new Elect('a', [...aArgs, '--', workerScript], { ...s.env, WORKER_MODE: workerMode });
      await a.waitLine(/^start a /, 'a to lead');
      const b = new Elect('b', [...server.args(election, '--id', 'b'), '--', workerScript], s.env);
      await b.waitLog((r) => r.event === 'campaigning' && r.component === undefined, 'b to campaign');

      const cutAt = Date.now();
      proxy.blackhole();
      await b.waitLine(/^start b /, 'b to take over after the cut', ttlMs + 10_000);
      const takeoverMs = Date.now() - cutAt;
      const stopped = a.events('stopped')[0];
      // a stopped its command before b started its own: the flock never saw
      // two, and a's stop is recorded before b's start.
      expect(stopped).toBeDefined();
      expect(s.markers().filter((m) => m.startsWith('OVERLAP'))).toEqual([]);
      const stoppedMs = (stopped?.time as number) - cutAt;
      expect(stoppedMs).toBeLessThan(takeoverMs);
      process.stdout.write(`${backend} ${label}: command stopped ${stoppedMs} ms after the cut, b started ${takeoverMs} ms after (ttl ${ttlMs} ms)\n`);
      // a gives up with "leadership lost" once its connection closes (bounded).
      await expect(a.waitExit(20_000)).resolves.toEqual({ code: 75, signal: null });
      return { a, b, s };
    } finally {
      await proxy.close();
    }
  }

  it('a healthy leader is never stopped: at the shortest TTL (2s) and the default grace, the command runs on', async () => {
    const s = scratch();
    const election = server.election('healthy');
    const a = new Elect('a', ['-b', backend, '-c', server.connect, '-e', election, '--ttl', '2s', '--id', 'a', '--', workerScript], s.env);
    await a.waitLine(/^start a /, 'a to lead');
    // The stop begins --grace + 300 ms before the loss deadline; the deadline
    // must stay further ahead than that through every heartbeat for three
    // TTLs (on ZooKeeper a grace checked only against half the TTL began the
    // stop within a second).
    await expect(a.waitLog((r) => r.event === 'stop' || r.event === 'lost', 'a stop of a healthy command', 3 * 2_000)).rejects.toThrow(/^timed out after/);
    a.kill('SIGTERM');
    await expect(a.waitExit()).resolves.toEqual({ code: 143, signal: null });
  });

  it('a cut past the deadline stops the command (SIGTERM) before another candidate starts its own', async () => {
    const { a, s } = await cutScenario('cut', [], 'run');
    const markers = s.markers().map((m) => m.split(' ').slice(0, 2).join(' '));
    expect(markers).toEqual(['start a', 'stop a', 'start b']);
    expect(a.logs.some((r) => r.event === 'stop' && r.signal === 'SIGTERM')).toBe(true);
    expect(a.logs.some((r) => r.event === 'stop' && r.signal === 'SIGKILL')).toBe(false);
  });

  it('--grace escalates to SIGKILL for a command that ignores SIGTERM, still before the next leader starts', async () => {
    const { a, s } = await cutScenario('grace', ['--grace', '1s'], 'ignore-term');
    const markers = s.markers().map((m) => m.split(' ').slice(0, 2).join(' '));
    expect(markers).toEqual(['start a', 'ignored TERM', 'start b']);
    expect(a.stdout).toContain('ignored TERM a');
    const term = a.logs.find((r) => r.event === 'stop' && r.signal === 'SIGTERM');
    const kill = a.logs.find((r) => r.event === 'stop' && r.signal === 'SIGKILL');
    expect(term && kill).toBeTruthy();
    // SIGKILL came a grace period (1s) after SIGTERM.
    expect((kill?.time as number) - (term?.time as number)).toBeGreaterThanOrEqual(950);
  });

  it('the server ending the session/lease kills the command at once; with --rejoin elect campaigns again', async () => {
    const s = scratch();
    const a = new Elect('a', [...server.args(server.election('expiry'), '--id', 'a', '--rejoin'), '--', workerScript], s.env);
    const first = await a.waitLine(/^start a /, 'a to lead');
    await endSessionOnServer(backend, server, a);
    await a.waitLog((r) => r.event === 'stopped' && r.component === undefined, 'a to stop its command');
    // Leadership was already gone: no grace, straight to SIGKILL.
    expect(a.logs.find((r) => r.event === 'stop' && r.component === undefined)?.signal).toBe('SIGKILL');
    const second = await a.waitLine((line) => line.startsWith('start a ') && line !== first, 'a to lead again', ttlMs + 10_000);
    expect(BigInt(second.split(' ')[2] as string)).toBeGreaterThan(BigInt(first.split(' ')[2] as string));
    expect(s.markers().filter((m) => m.startsWith('OVERLAP'))).toEqual([]);
    a.kill('SIGTERM');
    await expect(a.waitExit()).resolves.toEqual({ code: 143, signal: null });
  });
});
