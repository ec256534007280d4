/**
 * Every option `elect` understands, in one table: its flag, its environment
 * variable, its default, and how its text becomes a value. Flags win over
 * `ELECT_*` variables; both go through the same validation, and a bad value
 * is reported under the name the user actually wrote (`--ttl` or `ELECT_TTL`).
 *
 * We read the environment ourselves instead of yargs' `.env('ELECT')`: under
 * `.strict()` that fails on any `ELECT_*` variable it does not know, and a
 * command run by `elect` always has some (`ELECT_TOKEN`, `ELECT_LEADER`), as
 * do test harnesses (`ELECT_TEST_TIMING`). Unknown `ELECT_*` variables are
 * ignored.
 */
import { ErrorCode, isElectError } from '@elect/core';
import { MAX_PRIORITY, candidateId, candidateValue } from '@elect/core/backend';
import { steadyLeadMs as etcdSteadyLeadMs } from '@elect/etcd/pacing';
import { steadyLeadMs as zkSteadyLeadMs } from '@elect/zk/pacing';
import { formatDuration, parseDuration } from './duration.js';

export type Backend = 'zk' | 'etcd';
export const backends: readonly Backend[] = ['zk', 'etcd'];
export type CommandName = 'run' | 'leader' | 'observe' | 'candidates' | 'handover';
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** A problem with how `elect` was called: exit code 64 and this message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const defaults = {
  connect: { zk: '127.0.0.1:2181', etcd: 'http://127.0.0.1:2379' } as Record<Backend, string>,
  ttlMs: 10_000,
  connectTimeoutMs: 5_000,
  /** `--grace` when not given: a quarter of the TTL, at most this. */
  maxDefaultGraceMs: 3_000,
  logLevel: 'info' as LogLevel,
  /** How long `elect handover` waits for the chosen candidate to lead. */
  handoverWaitMs: 60_000,
  /** The inspection commands print what they were asked for; connection chatter would be noise. */
  inspectLogLevel: 'warn' as LogLevel,
};

/**
 * Time we keep, on top of `--grace`, between SIGKILL and the loss deadline:
 * for the kill to land, the child to be reaped and our timers to run late on
 * a busy machine.
 */
export const stopMarginMs = 300;

/** The longest wait a timer can take (2³¹ − 1 ms, about 24.8 days). */
const maxTimerMs = 2_147_483_647;

/**
 * The longest `--grace` + margin a TTL allows on a backend. The stop begins
 * that long before the loss deadline, so it must be shorter than the time a
 * healthy leadership always keeps before its deadline — the backend's steady
 * lead: about 0.57 × TTL on etcd (a keepalive every TTL/3), 0.4 × TTL on
 * ZooKeeper (a heartbeat credits contact that is up to TTL/2 old: see
 * `steadyLeadMs` in each backend) — less room for round trips and late
 * timers: a fifteenth of the TTL, at least 250 ms. A longer stop would begin
 * on every heartbeat gap and kill a healthy command. On etcd, from a 4 s TTL
 * up, that is half the TTL.
 */
export function maxStopMs(backend: Backend, ttlMs: number): number {
  return Math.max(0, Math.floor(steadyLeadMs(backend, ttlMs) - Math.max(roundTripRoomMs, ttlMs / 15)));
}

/** The least room kept for a heartbeat's round trip and late timers on a busy host. */
const roundTripRoomMs = 250;

/** etcd grants whole seconds (rounded up): the lease has that TTL, not the one asked for. */
function steadyLeadMs(backend: Backend, ttlMs: number): number {
  return backend === 'zk' ? zkSteadyLeadMs(ttlMs) : etcdSteadyLeadMs(Math.ceil(ttlMs / 1000) * 1000);
}

/** The longest `--grace` a TTL allows on a backend (see maxStopMs). */
export function maxGraceMs(backend: Backend, ttlMs: number): number {
  return Math.max(0, maxStopMs(backend, ttlMs) - stopMarginMs);
}

/**
 * `--grace` as a granted TTL allows it. The options were checked against
 * `--ttl`; the server may grant less.
 */
export function graceFor(backend: Backend, graceMs: number, grantedMs: number): number {
  return Math.min(graceMs, maxGraceMs(backend, grantedMs));
}

/** Variables `elect run` exports to its command (see `gateEnv`, and gate.ts for ELECT_TOKEN). */
export const exportedVars = ['ELECT_BACKEND', 'ELECT_ELECTION', 'ELECT_ID', 'ELECT_TOKEN', 'ELECT_LEADER'] as const;

interface Common {
  backend: Backend;
  election: string;
  /** Where the election name came from, for messages: `--election` or `ELECT_ELECTION`. */
  electionSource: string;
  connect: string;
  ttlMs: number;
  connectTimeoutMs: number;
  logLevel: LogLevel;
  /** zk: digest `user:password`; etcd: `user:password`. */
  user: string | undefined;
  /** zk: `--acl`, the ACL of the nodes elect creates; undefined: open to anyone (Curator's default). */
  acl: AclFlag | undefined;
  /** etcd TLS files; undefined when none was given. */
  tls: { cacert?: string; cert?: string; key?: string } | undefined;
}

export interface RunOptions extends Common {
  command: 'run';
  id: string;
  value: string | undefined;
  /** `--priority N`: campaign in a priority election; undefined: a plain one (Curator's / etcdctl's layout). */
  priority: number | undefined;
  /** `--preempt`: a leader of lower priority yields to us. */
  preempt: boolean;
  graceMs: number;
  rejoin: boolean;
  /** Undefined: campaign for as long as it takes. */
  waitMs: number | undefined;
  /** `--metrics HOST:PORT`: where to serve /metrics, /healthz and /readyz; undefined: nowhere. */
  metrics: MetricsAddress | undefined;
  /** The command and its arguments, exactly as given after `--`. */
  argv: [string, ...string[]];
}

export interface MetricsAddress {
  /** Undefined: every interface (IPv6 and IPv4 where the host has both). */
  host: string | undefined;
  /** 0: a port the OS picks (the `metrics` log line says which). */
  port: number;
}

export interface InspectOptions extends Common {
  command: 'leader' | 'observe' | 'candidates';
  json: boolean;
}

/** `elect handover --to ID`: ask the leader to hand over to ID, and wait (at most `waitMs`) until ID leads. */
export interface HandoverOptions extends Common {
  command: 'handover';
  to: string;
  waitMs: number;
  json: boolean;
}

export type Options = RunOptions | InspectOptions | HandoverOptions;

/** What yargs handed us: flag values as typed (strings and booleans), absent when not given. */
export type ParsedFlags = Record<string, unknown> & { '--'?: unknown[] };

/** Where a value came from, for messages: `--ttl` or `ELECT_TTL`. */
interface Raw {
  value: unknown;
  source: string;
}

/** `ELECT_CONNECT_TIMEOUT` for `connect-timeout`. */
export function envName(flag: string): string {
  return `ELECT_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export function resolveOptions(command: CommandName, flags: ParsedFlags, env: NodeJS.ProcessEnv, host: { hostname: string; pid: number }): Options {
  // Inside a command `elect` started, ELECT_BACKEND / ELECT_ELECTION / ELECT_ID
  // describe the *parent's* candidacy. Reading them as flags would make a
  // nested `elect run` campaign under its parent's id: pass flags explicitly.
  const nested = env.ELECT_LEADER === '1';
  const raw = (flag: string): Raw | undefined => {
    const value = flags[flag];
    if (value !== undefined) return { value, source: `--${flag}` };
    const name = envName(flag);
    // (And a nested `elect` would try the parent's metrics port.)
    if (nested && ((exportedVars as readonly string[]).includes(name) || name === 'ELECT_METRICS')) return undefined;
    const fromEnv = env[name];
    return fromEnv === undefined ? undefined : { value: fromEnv, source: name };
  };

  const backend = oneOf(raw('backend'), backends, 'backend');
  const electionRaw = raw('election');
  const election = text(electionRaw, 'election');
  const ttlMs = duration(raw('ttl')) ?? defaults.ttlMs;
  if (ttlMs < 2_000) throw new UsageError(`--ttl ${formatDuration(ttlMs)} is too short: the session timeout / lease TTL must be at least 2s`);
  const connectTimeoutMs = duration(raw('connect-timeout')) ?? defaults.connectTimeoutMs;
  if (connectTimeoutMs <= 0) throw new UsageError('--connect-timeout must be more than 0');
  const common: Common = {
    backend,
    election,
    electionSource: electionRaw?.source ?? '--election',
    connect: optionalText(raw('connect')) ?? defaults.connect[backend],
    ttlMs,
    connectTimeoutMs,
    logLevel:
      raw('log-level') === undefined
        ? command === 'run'
          ? defaults.logLevel
          : defaults.inspectLogLevel
        : oneOf(raw('log-level'), logLevels, 'log-level'),
    user: optionalText(raw('user')),
    acl: aclFlag(raw('acl')),
    tls: tlsFiles(optionalText(raw('cacert')), optionalText(raw('cert')), optionalText(raw('key'))),
  };
  if (command === 'handover') {
    const to = checked(raw('to'), candidateId);
    if (to === undefined) throw missing('to');
    const waitMs = duration(raw('wait')) ?? defaults.handoverWaitMs;
    if (waitMs <= 0 || waitMs > maxTimerMs) throw new UsageError('--wait must be more than 0 and at most 596h');
    return { ...common, command, to, waitMs, json: bool(raw('json')) ?? false };
  }
  if (command !== 'run') return { ...common, command, json: bool(raw('json')) ?? false };

  const rest = (flags['--'] ?? []).map(String);
  const [file, ...args] = rest;
  if (file === undefined || file === '') {
    throw new UsageError('no command given: put it after `--`, e.g. `elect run --backend zk --election jobs -- ./worker --once`');
  }
  const graceMs = duration(raw('grace')) ?? Math.min(defaults.maxDefaultGraceMs, Math.floor(ttlMs / 4), maxGraceMs(backend, ttlMs));
  if (graceMs > maxGraceMs(backend, ttlMs)) {
    throw new UsageError(
      `--grace ${formatDuration(graceMs)} is too long for --ttl ${formatDuration(ttlMs)} on ${backend}: a healthy session keeps its loss ` +
        `deadline only ${formatDuration(steadyLeadMs(backend, ttlMs))} ahead, and the command must be gone by the deadline, so --grace ` +
        `may be at most ${formatDuration(maxGraceMs(backend, ttlMs))}; give a longer --ttl or a shorter --grace`,
    );
  }
  const waitMs = duration(raw('wait'));
  if (waitMs !== undefined && waitMs <= 0) throw new UsageError('--wait must be more than 0 (leave it out to wait for as long as it takes)');
  // A timer's ceiling: a longer wait would fire at once.
  if (waitMs !== undefined && waitMs > maxTimerMs) throw new UsageError(`--wait may be at most 596h (2147483647ms, a timer's limit); leave it out to wait for as long as it takes`);
  return {
    ...common,
    command,
    id: checked(raw('id'), candidateId) ?? `${host.hostname}-${host.pid}`,
    value: checked(raw('value'), candidateValue),
    ...priorityFlags(raw('priority'), raw('preempt')),
    graceMs,
    rejoin: bool(raw('rejoin')) ?? false,
    waitMs,
    metrics: metricsAddress(raw('metrics')),
    argv: [file, ...args],
  };
}

/** `--priority N` (an integer 0..2147483647) and `--preempt` (only with a priority). */
function priorityFlags(priority: Raw | undefined, preempt: Raw | undefined): { priority: number | undefined; preempt: boolean } {
  let value: number | undefined;
  if (priority !== undefined) {
    const text = String(priority.value);
    value = /^(0|[1-9]\d{0,9})$/.test(text) ? Number(text) : NaN;
    if (!(value <= MAX_PRIORITY)) throw new UsageError(`${priority.source} ${JSON.stringify(text)}: expected an integer from 0 to ${MAX_PRIORITY}`);
  }
  const wanted = bool(preempt) ?? false;
  if (wanted && value === undefined) throw new UsageError(`${preempt?.source ?? '--preempt'} needs --priority: only a priority election can preempt its leader`);
  return { priority: value, preempt: wanted };
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
function metricsAddress(raw: Raw | undefined): MetricsAddress | undefined {
  if (raw === undefined) return undefined;
  const value = String(raw.value);
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) {
    throw new UsageError(`${raw.source} ${JSON.stringify(value)}: expected HOST:PORT, [IPv6]:PORT or :PORT, e.g. 127.0.0.1:9464 (port 0: any free port)`);
  }
  return { host: match[1] ?? (match[2] === '' ? undefined : match[2]), port };
}

/** Core's own validation of an id or value, reported under the flag's name, before anything connects. */
function checked(raw: Raw | undefined, check: (value: unknown) => string): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return check(raw.value);
  } catch (error) {
    throw usageUnder(raw.source, error);
  }
}

/** Core's or a backend's refusal of a value, as a usage error under the name the user wrote. */
export function usageUnder(source: string, error: unknown): UsageError {
  return new UsageError(`${source}: ${(error as Error).message.replace(/^Invalid option "\w+": /, '')}`);
}

/** `--acl` as given, and as entries in ZooKeeper's own terms. */
export interface AclFlag {
  /** `--acl` or `ELECT_ACL`, for messages. */
  source: string;
  text: string;
  entries: { scheme: string; id: string; permissions: string }[];
}

/**
 * `--acl SCHEME:ID:PERMISSIONS[,…]`, written as ZooKeeper's own `setAcl`
 * writes an ACL (`auth::cdrwa,world:anyone:r`); an id may hold colons (a
 * digest id is `USER:HASH`). What the entries mean is checked by the zk
 * backend, before anything is sent.
 */
function aclFlag(raw: Raw | undefined): AclFlag | undefined {
  const text = optionalText(raw);
  if (raw === undefined || text === undefined) return undefined;
  const entries = text.split(',').map((written) => {
    const part = written.trim();
    const first = part.indexOf(':');
    const last = part.lastIndexOf(':');
    if (first < 1 || first === last) {
      throw new UsageError(`${raw.source}: ${JSON.stringify(part)} is not SCHEME:ID:PERMISSIONS (e.g. auth::cdrwa,world:anyone:r)`);
    }
    return { scheme: part.slice(0, first), id: part.slice(first + 1, last), permissions: part.slice(last + 1) };
  });
  return { source: raw.source, text, entries };
}

/**
 * The zk backend's refusal of an `--acl` (before anything is sent, or the
 * server's INVALID_ACL), under the name the user wrote, naming the entry;
 * any other error as it is.
 */
export function aclRefused(acl: AclFlag | undefined, error: unknown): unknown {
  const option = (error as { option?: unknown } | undefined)?.option;
  if (acl === undefined || !isElectError(error) || error.code !== ErrorCode.InvalidOption || typeof option !== 'string' || !option.startsWith('acl')) return error;
  const entry = /^acl\[(\d+)\]$/.exec(option);
  const what = entry ? `${acl.source} entry ${JSON.stringify(acl.text.split(',')[Number(entry[1])]?.trim())}` : `${acl.source} ${acl.text}`;
  return new UsageError(`${what}: ${error.message.replace(/^Invalid option "[^"]+": /, '')}`);
}

function tlsFiles(cacert?: string, cert?: string, key?: string): Common['tls'] {
  if (cacert === undefined && cert === undefined && key === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together');
  return {
    ...(cacert === undefined ? {} : { cacert }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

function missing(flag: string): UsageError {
  return new UsageError(`missing --${flag} (or ${envName(flag)})`);
}

function oneOf<T extends string>(raw: Raw | undefined, choices: readonly T[], flag: string): T {
  if (raw === undefined) throw missing(flag);
  if (!(choices as readonly unknown[]).includes(raw.value)) {
    throw new UsageError(`${raw.source}: unknown value ${JSON.stringify(raw.value)}; expected one of ${choices.join(', ')}`);
  }
  return raw.value as T;
}

function text(raw: Raw | undefined, flag: string): string {
  const value = optionalText(raw);
  if (value === undefined) throw missing(flag);
  return value;
}

function optionalText(raw: Raw | undefined, allowEmpty = false): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw.value !== 'string') throw new UsageError(`${raw.source} needs a value`);
  if (!allowEmpty && raw.value === '') throw new UsageError(`${raw.source} must not be empty`);
  return raw.value;
}

function duration(raw: Raw | undefined): number | undefined {
  const value = optionalText(raw);
  if (value === undefined || raw === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (error) {
    throw new UsageError(`${raw.source}: ${(error as Error).message}`);
  }
}

const truthy = ['1', 'true', 'yes', 'on'];
const falsy = ['0', 'false', 'no', 'off', ''];

function bool(raw: Raw | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw.value === 'boolean') return raw.value;
  const value = String(raw.value).toLowerCase();
  if (truthy.includes(value)) return true;
  if (falsy.includes(value)) return false;
  throw new UsageError(`${raw.source}: expected true or false, got ${JSON.stringify(raw.value)}`);
}
