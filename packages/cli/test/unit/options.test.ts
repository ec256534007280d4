import { describe, expect, it } from '@jest/globals';
import { UsageError, resolveOptions, type ParsedFlags, type RunOptions } from '../../src/options.js';

const host = { hostname: 'box', pid: 42 };
const run = (flags: ParsedFlags, env: NodeJS.ProcessEnv = {}): RunOptions =>
  resolveOptions('run', { '--': ['worker', '--flag'], ...flags }, env, host) as RunOptions;
const usage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('resolveOptions', () => {
  it('--priority and --preempt (flags or ELECT_*): an integer 0..2147483647; preempt only with a priority', () => {
    expect(run({ backend: 'zk', election: 'j' })).toMatchObject({ priority: undefined, preempt: false });
    expect(run({ backend: 'zk', election: 'j', priority: '5', preempt: true })).toMatchObject({ priority: 5, preempt: true });
    expect(run({ backend: 'zk', election: 'j' }, { ELECT_PRIORITY: '0', ELECT_PREEMPT: 'yes' })).toMatchObject({ priority: 0, preempt: true });
    expect(run({ backend: 'zk', election: 'j', priority: '2147483647' }).priority).toBe(2_147_483_647);
    for (const bad of ['-1', '1.5', 'ten', '2147483648', '', '007']) {
      expect(usage(() => run({ backend: 'zk', election: 'j', priority: bad }))).toMatch(/^--priority .*(integer from 0 to 2147483647|must not be empty)/);
    }
    expect(usage(() => run({ backend: 'zk', election: 'j', preempt: true }))).toMatch(/^--preempt needs --priority/);
    expect(usage(() => run({ backend: 'zk', election: 'j' }, { ELECT_PREEMPT: '1' }))).toMatch(/^ELECT_PREEMPT needs --priority/);
  });

  it('handover: --to is required and checked like an id; --wait defaults to a minute', () => {
    const handover = (flags: ParsedFlags) => resolveOptions('handover', { backend: 'zk', election: 'j', ...flags }, {}, host);
    expect(handover({ to: 'web-2' })).toMatchObject({ command: 'handover', to: 'web-2', waitMs: 60_000, json: false });
    expect(handover({ to: 'web-2', wait: '5s', json: true })).toMatchObject({ waitMs: 5_000, json: true });
    expect(usage(() => handover({}))).toMatch(/^missing --to/);
    expect(usage(() => handover({ to: 'a\nb' }))).toMatch(/^--to: must not contain line breaks/);
    expect(usage(() => handover({ to: 'x', wait: '0s' }))).toMatch(/--wait must be more than 0/);
  });

  it('applies the documented defaults', () => {
    const o = run({ backend: 'zk', election: 'jobs' });
    expect(o).toMatchObject({
      command: 'run',
      backend: 'zk',
      election: 'jobs',
      connect: '127.0.0.1:2181',
      ttlMs: 10_000,
      connectTimeoutMs: 5_000,
      graceMs: 2_500,
      rejoin: false,
      waitMs: undefined,
      id: 'box-42',
      value: undefined,
      logLevel: 'info',
      argv: ['worker', '--flag'],
    });
    expect(run({ backend: 'etcd', election: 'jobs' }).connect).toBe('http://127.0.0.1:2379');
  });

  it('default grace is a quarter of the TTL, at most 3s', () => {
    expect(run({ backend: 'zk', election: 'j', ttl: '4s' }).graceMs).toBe(1_000);
    expect(run({ backend: 'zk', election: 'j', ttl: '60s' }).graceMs).toBe(3_000);
  });

  it('reads every flag from ELECT_* and lets flags win', () => {
    const env = {
      ELECT_BACKEND: 'etcd',
      ELECT_ELECTION: 'from-env',
      ELECT_CONNECT: 'http://127.0.0.1:1',
      ELECT_TTL: '6s',
      ELECT_GRACE: '1s',
      ELECT_REJOIN: 'yes',
      ELECT_WAIT: '2m',
      ELECT_ID: 'me',
      ELECT_VALUE: 'v',
      ELECT_CONNECT_TIMEOUT: '3s',
      ELECT_LOG_LEVEL: 'debug',
    };
    expect(run({}, env)).toMatchObject({
      backend: 'etcd',
      election: 'from-env',
      connect: 'http://127.0.0.1:1',
      ttlMs: 6_000,
      graceMs: 1_000,
      rejoin: true,
      waitMs: 120_000,
      id: 'me',
      value: 'v',
      connectTimeoutMs: 3_000,
      logLevel: 'debug',
    });
    expect(run({ election: 'flag', rejoin: false }, env)).toMatchObject({ election: 'flag', rejoin: false });
  });

  it('ignores ELECT_* variables it does not know (ELECT_TOKEN, ELECT_TEST_TIMING, typos)', () => {
    const env = { ELECT_TOKEN: '17', ELECT_LEADER: '0', ELECT_TEST_TIMING: '2', ELECT_FOO: 'x' };
    expect(run({ backend: 'zk', election: 'j' }, env).backend).toBe('zk');
  });

  it("inside a command elect started, does not take the parent's identity as flags", () => {
    const parent = { ELECT_BACKEND: 'zk', ELECT_ELECTION: 'parent', ELECT_ID: 'parent-id', ELECT_TOKEN: '9', ELECT_LEADER: '1', ELECT_TTL: '6s' };
    expect(usage(() => run({}, parent))).toBe('missing --backend (or ELECT_BACKEND)');
    const o = run({ backend: 'etcd', election: 'child' }, parent);
    // The user's own settings (ELECT_TTL) still apply; the parent's id does not.
    expect(o).toMatchObject({ backend: 'etcd', election: 'child', id: 'box-42', ttlMs: 6_000 });
  });

  it('names the flag or the variable the bad value came from', () => {
    expect(usage(() => run({ election: 'j' }))).toBe('missing --backend (or ELECT_BACKEND)');
    expect(usage(() => run({ backend: 'zk' }))).toBe('missing --election (or ELECT_ELECTION)');
    expect(usage(() => run({ election: 'j' }, { ELECT_BACKEND: 'consul' }))).toBe(
      'ELECT_BACKEND: unknown value "consul"; expected one of zk, etcd',
    );
    expect(usage(() => run({ backend: 'zk', election: 'j', ttl: '10' }))).toBe('--ttl: "10" has no unit; write 10s or 10ms (units: ms, s, m, h)');
    expect(usage(() => run({ backend: 'zk', election: 'j' }, { ELECT_WAIT: 'soon' }))).toMatch(/^ELECT_WAIT: "soon" is not a duration/);
    expect(usage(() => run({ backend: 'zk', election: 'j' }, { ELECT_REJOIN: 'maybe' }))).toBe('ELECT_REJOIN: expected true or false, got "maybe"');
    expect(usage(() => run({ backend: 'zk', election: '' }))).toBe('--election must not be empty');
    expect(usage(() => run({ backend: 'zk', election: 'j', id: 'a\nb' }))).toBe('--id: must not contain line breaks or NUL characters');
    expect(usage(() => run({ backend: 'zk', election: 'j' }, { ELECT_ID: '' }))).toBe('ELECT_ID: must be a non-empty string, got ""');
    expect(usage(() => run({ backend: 'zk', election: 'j', 'log-level': 'loud' }))).toMatch(/^--log-level: unknown value "loud"/);
  });

  it('--metrics takes HOST:PORT, [IPv6]:PORT or :PORT, names a bad one, and is not inherited by a nested elect', () => {
    const zk = { backend: 'zk', election: 'j' };
    expect(run(zk).metrics).toBeUndefined();
    expect(run({ ...zk, metrics: '127.0.0.1:9464' }).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(run({ ...zk, metrics: '[::1]:0' }).metrics).toEqual({ host: '::1', port: 0 });
    expect(run({ ...zk, metrics: ':9464' }).metrics).toEqual({ host: undefined, port: 9464 });
    expect(run(zk, { ELECT_METRICS: 'localhost:1' }).metrics).toEqual({ host: 'localhost', port: 1 });
    expect(usage(() => run({ ...zk, metrics: '9464' }))).toMatch(/^--metrics "9464": expected HOST:PORT/);
    expect(usage(() => run(zk, { ELECT_METRICS: 'h:70000' }))).toMatch(/^ELECT_METRICS "h:70000": expected HOST:PORT/);
    expect(run(zk, { ELECT_METRICS: 'localhost:1', ELECT_LEADER: '1' }).metrics).toBeUndefined();
  });

  it('refuses a grace period that cannot end before the loss deadline, by what each backend keeps ahead', () => {
    // zk: a healthy 10 s session keeps its deadline 4 s ahead; less 10s/15 and 300 ms.
    expect(usage(() => run({ backend: 'zk', election: 'j', ttl: '10s', grace: '3.1s' }))).toBe(
      '--grace 3.1s is too long for --ttl 10s on zk: a healthy session keeps its loss deadline only 4s ahead, and the command ' +
        'must be gone by the deadline, so --grace may be at most 3.033s; give a longer --ttl or a shorter --grace',
    );
    expect(run({ backend: 'zk', election: 'j', ttl: '10s', grace: '3.033s' }).graceMs).toBe(3_033);
    // etcd: a keepalive every TTL/3 keeps it 5.667 s ahead: half the TTL, as before.
    expect(usage(() => run({ backend: 'etcd', election: 'j', ttl: '10s', grace: '4.8s' }))).toMatch(/^--grace 4.8s is too long for --ttl 10s on etcd: .* at most 4.7s;/);
    expect(run({ backend: 'etcd', election: 'j', ttl: '10s', grace: '4.7s' }).graceMs).toBe(4_700);
    expect(run({ backend: 'zk', election: 'j', grace: '0' }).graceMs).toBe(0);
  });

  it('the default grace is a quarter of the TTL, at most 3 s, and never more than the backend allows', () => {
    expect(run({ backend: 'zk', election: 'j' }).graceMs).toBe(2_500);
    expect(run({ backend: 'zk', election: 'j', ttl: '60s' }).graceMs).toBe(3_000);
    expect(run({ backend: 'etcd', election: 'j', ttl: '2s' }).graceMs).toBe(500);
    // zk at 2 s keeps 800 ms ahead: 800 − 250 (round trips, late timers) − 300.
    expect(run({ backend: 'zk', election: 'j', ttl: '2s' }).graceMs).toBe(250);
    // etcd's lease is whole seconds: 2.5 s asked is a 3 s lease.
    expect(run({ backend: 'etcd', election: 'j', ttl: '2.5s', grace: '1.15s' }).graceMs).toBe(1_150);
  });

  it('refuses too short a TTL, a zero wait, and a missing command', () => {
    expect(usage(() => run({ backend: 'zk', election: 'j', ttl: '1s' }))).toMatch(/--ttl 1s is too short/);
    expect(usage(() => run({ backend: 'zk', election: 'j', wait: '0' }))).toMatch(/--wait must be more than 0/);
    expect(usage(() => run({ backend: 'zk', election: 'j', wait: '720h' }))).toMatch(/--wait may be at most 596h/);
    expect(usage(() => resolveOptions('run', { backend: 'zk', election: 'j' }, {}, host))).toMatch(/^no command given: put it after `--`/);
  });

  it('inspection commands take --json and need no command', () => {
    expect(resolveOptions('leader', { backend: 'etcd', election: 'j', json: true }, {}, host)).toMatchObject({ command: 'leader', json: true });
    expect(resolveOptions('observe', { backend: 'etcd', election: 'j' }, { ELECT_JSON: '1' }, host)).toMatchObject({ json: true });
  });

  it('etcd TLS files: --cert needs --key', () => {
    expect(usage(() => run({ backend: 'etcd', election: 'j', cert: 'c.pem' }))).toBe('--cert and --key go together');
    expect(run({ backend: 'etcd', election: 'j', cacert: 'ca.pem' }).tls).toEqual({ cacert: 'ca.pem' });
  });
});
