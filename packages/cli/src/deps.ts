/**
 * What `run()` takes from the outside world. The bin passes the real things;
 * tests pass fakes (a spawn that records, a signal source they can emit on).
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Clock, Election, Logger as CoreLogger, SessionTelemetry } from '@elect/core';
import type { LogSink } from './log.js';
import type { Logger } from './log.js';
import type { AclFlag, Backend } from './options.js';

export type SpawnFn = (file: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** `process.kill`: throws ESRCH when nothing matches, EPERM when not allowed. */
export type KillFn = (pid: number, signal: NodeJS.Signals | 0) => void;

/** Where `elect` hears signals sent to itself (the process, in the bin). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** An open backend connection, reduced to what the CLI uses. */
export interface Connection {
  election(name: string): Election;
  close(): Promise<void>;
}

export interface ConnectSettings {
  backend: Backend;
  /** The election the connection is for: refused, if bad, before anything is sent. */
  election: string;
  /** Where its name came from, for the refusal: `--election` or `ELECT_ELECTION`. */
  electionSource: string;
  connect: string;
  ttlMs: number;
  connectTimeoutMs: number;
  /** zk: digest credentials; etcd: `user:password`. */
  user: string | undefined;
  /** zk: the ACL of the nodes elect creates (`--acl`). */
  acl: AclFlag | undefined;
  /** etcd TLS files (PEM paths). */
  tls: { cacert?: string; cert?: string; key?: string } | undefined;
  /** For the backend's own records (see `backendLogger`). */
  logger: CoreLogger;
  /** The connection's clock: the one `elect`'s own waits and deadlines run on. */
  clock: Clock;
  /** With `--metrics`: the connection's session state and round trips go there. */
  telemetry: SessionTelemetry | undefined;
}

export type ConnectFn = (settings: ConnectSettings) => Promise<Connection>;

export interface Output {
  write(chunk: string): unknown;
}

export interface RunDeps {
  env: NodeJS.ProcessEnv;
  /** The inspection commands' output; never written by `elect run`. */
  stdout: Output;
  /** Usage messages and log lines. */
  stderr: LogSink;
  /** Pretty logs instead of JSON lines. */
  stderrIsTTY: boolean;
  spawn: SpawnFn;
  kill: KillFn;
  /** Whether process group `pgid` still has live members (default: `groupAlive` over `kill` and /proc). */
  groupAlive?: (pgid: number) => boolean;
  signals: SignalSource;
  connect: ConnectFn;
  /** Starts the watchdog that kills the child's group if `elect` dies. */
  watchdog: WatchdogFactory;
  hostname: string;
  pid: number;
  cwd: string;
  /** Every wait and deadline of `elect` (core's monotonic clock; tests may pass a `ManualClock`). */
  clock: Clock;
}

/** See watchdog.ts. */
export interface Watchdog {
  /**
   * From now on, if `elect` dies — or, given `deadline`, if that passes
   * before a `hold` moves it — the watchdog kills process group `pgid`.
   * Resolves once the watchdog has been told (the line is in the pipe); only
   * then may the command start (gate.ts).
   */
  arm(pgid: number, deadline?: number): Promise<void>;
  /**
   * The loss deadline moved to `deadline` (core's clock: `Leadership.deadline`):
   * if `elect` has not said otherwise by then, the watchdog kills the group.
   */
  hold(deadline: number): void;
  /** The group is gone: nothing to kill any more. */
  disarm(): void;
  /** Disarms and lets the watchdog exit. */
  close(): void;
}

/** Starts a watchdog that reads deadlines on `clock`. */
export type WatchdogFactory = (logger: Logger, clock: Clock) => Promise<Watchdog>;
