/**
 * `run(argv, deps)`: the whole of `elect` as a function from arguments to an
 * exit code. The bin is a few lines around it; tests call it with fakes.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { hostname } from 'node:os';
import { ErrorCode, isElectError, systemClock, type Clock, type Election, type Logger as CoreLogger, type SessionTelemetry, within } from '@elect/core';
import { parseArgs } from './args.js';
import { connectBackend } from './backends.js';
import { resolveCommand } from './command.js';
import type { Connection, RunDeps } from './deps.js';
import { ExitCode, signalExitCode } from './exit-codes.js';
import { candidates, handover, leader, observe } from './inspect.js';
import { backendLogger, createLogger, type Logger } from './log.js';
import { startMetrics, type MetricsEndpoint } from './metrics-endpoint.js';
import { UsageError, aclRefused, resolveOptions, type Options, type RunOptions } from './options.js';
import { signalNumber } from './process-group.js';
import { runWhileElected } from './run-command.js';
import { SignalRouter } from './signals.js';
import { startWatchdog } from './watchdog.js';

export function defaultDeps(): RunDeps {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stderrIsTTY: process.stderr.isTTY === true,
    spawn: nodeSpawn,
    kill: (pid, signal) => process.kill(pid, signal),
    signals: process,
    connect: connectBackend,
    watchdog: (logger, clock) => startWatchdog(nodeSpawn, logger, clock),
    hostname: hostname(),
    pid: process.pid,
    cwd: process.cwd(),
    clock: systemClock,
  };
}

export async function run(argv: readonly string[], overrides: Partial<RunDeps> = {}): Promise<number> {
  const deps: RunDeps = { ...defaultDeps(), ...overrides };
  const usage = (message: string): number => {
    deps.stderr.write(`elect: ${message}\nRun 'elect --help' for usage.\n`);
    return ExitCode.Usage;
  };
  const parsed = await parseArgs(argv);
  if (parsed.kind === 'output') {
    deps.stdout.write(parsed.text);
    return ExitCode.Ok;
  }
  if (parsed.kind === 'usage') return usage(parsed.message);
  let options: Options;
  try {
    options = resolveOptions(parsed.command, parsed.flags, deps.env, deps);
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
  let file: string | undefined;
  if (options.command === 'run') {
    const found = resolveCommand(options.argv[0], deps.env.PATH, deps.cwd);
    if (!found.ok) {
      deps.stderr.write(`elect: ${found.message}\n`);
      return found.code;
    }
    file = found.file;
  }
  const root = createLogger(options.logLevel, deps.stderr, deps.stderrIsTTY);
  const bindings = {
    backend: options.backend,
    election: options.election,
    ...(options.command === 'run' ? { id: options.id } : {}),
  };
  const logger = root.child(bindings);
  try {
    return await withSignals(deps, logger, backendLogger(root, options.backend, bindings), options, file);
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    if (isElectError(error) && (error.code === ErrorCode.InvalidOption || error.code === ErrorCode.MixedLayout)) {
      // The zk backend's refusal of --acl, at connect or (the server's INVALID_ACL) at the first write.
      return usage((aclRefused(options.acl, error) as Error).message);
    }
    logger.error({ err: error }, `unexpected error: ${(error as Error).message}`);
    return ExitCode.Internal;
  }
}

/**
 * Owns our signal handlers from the first connect to the last close, so that
 * no signal ever falls through to Node's default (terminating `elect` while a
 * child runs would leave the rest to the watchdog, and lose the exit status).
 */
async function withSignals(deps: RunDeps, logger: Logger, forBackend: CoreLogger, options: Options, file: string | undefined): Promise<number> {
  const signals = new SignalRouter(deps.signals, logger);
  const stopListening = options.command === 'run' ? signals.listen() : (): void => {};
  // `--metrics`: served from before the connection opens until after it closed.
  let metrics: MetricsEndpoint | undefined;
  try {
    if (options.command === 'run' && options.metrics) metrics = await startMetrics(options.metrics, options.backend, logger, deps.clock);
    const code = await serve(deps, logger, forBackend, options, file, signals, metrics);
    // A signal that was not the command's ends `elect` with 128 + n — also
    // one that came while the connection was being closed.
    const { interrupted } = signals;
    return interrupted.aborted ? signalExitCode(signalNumber(interrupted.reason as NodeJS.Signals)) : code;
  } finally {
    stopListening();
    await metrics?.close();
  }
}

/** Connects, does the command, closes. */
async function serve(
  deps: RunDeps,
  logger: Logger,
  forBackend: CoreLogger,
  options: Options,
  file: string | undefined,
  signals: SignalRouter,
  metrics: MetricsEndpoint | undefined,
): Promise<number> {
  const connection = await connect(deps, logger, forBackend, options, signals.interrupted, metrics?.telemetry);
  if (typeof connection === 'number') return connection;
  let election: Election | undefined;
  try {
    election = connection.election(options.election);
    if (metrics) election = metrics.election(election);
    switch (options.command) {
      case 'leader':
        return await leader(election, options, deps.stdout);
      case 'candidates':
        return await candidates(election, options, deps.stdout);
      case 'observe':
        return await observe(election, options, deps.stdout, deps.signals);
      case 'handover':
        return await handover(election, options, deps.stdout, deps.stderr, deps.signals, deps.clock);
      case 'run':
        return await runElect(deps, logger, options, file as string, election, signals);
      default:
        throw new Error(`unknown command ${(options as Options).command}`);
    }
  } catch (error) {
    if (isElectError(error) && (error.code === ErrorCode.Connection || error.code === ErrorCode.Timeout)) {
      logger.error({ err: error, event: 'unavailable' }, `backend unavailable: ${error.message}`);
      return ExitCode.Unavailable;
    }
    if (isPermissionDenied(error)) return permissionDenied(logger, options, error);
    throw error;
  } finally {
    await closeQuietly(logger, deps.clock, options.connectTimeoutMs, async () => {
      await election?.close();
      await connection.close();
    });
  }
}

async function runElect(
  deps: RunDeps,
  logger: Logger,
  options: RunOptions,
  file: string,
  election: Election,
  signals: SignalRouter,
): Promise<number> {
  const watchdog = await deps.watchdog(logger, deps.clock);
  try {
    return await runWhileElected({ options, file, election, watchdog, deps, logger, signals });
  } finally {
    watchdog.close();
  }
}

/** A connection, or the exit code when there is none (unreachable: 69; interrupted: 128+n). */
async function connect(
  deps: RunDeps,
  logger: Logger,
  forBackend: CoreLogger,
  options: Options,
  interrupted: AbortSignal,
  telemetry: SessionTelemetry | undefined,
): Promise<Connection | number> {
  logger.debug({ event: 'connecting', connect: options.connect }, 'connecting');
  const pending = deps.connect({
    backend: options.backend,
    election: options.election,
    electionSource: options.electionSource,
    connect: options.connect,
    ttlMs: options.ttlMs,
    connectTimeoutMs: options.connectTimeoutMs,
    user: options.user,
    acl: options.acl,
    tls: options.tls,
    logger: forBackend,
    clock: deps.clock,
    telemetry,
  });
  const gaveUp = new Promise<'interrupted'>((resolve) => interrupted.addEventListener('abort', () => resolve('interrupted'), { once: true }));
  try {
    const first = await Promise.race([pending, gaveUp]);
    if (first !== 'interrupted') return first;
    // Close it if it still comes; nothing was written with it.
    pending.then((c) => c.close(), () => {}).catch(() => {});
    return signalExitCode(signalNumber(interrupted.reason as NodeJS.Signals));
  } catch (error) {
    if (isPermissionDenied(error)) return permissionDenied(logger, options, error);
    if (isElectError(error) && error.code !== ErrorCode.InvalidOption) {
      logger.error(
        { err: error, event: 'unavailable', connect: options.connect },
        `cannot reach ${options.backend} at ${options.connect}: ${(error as Error).message}`,
      );
      return ExitCode.Unavailable;
    }
    throw error;
  }
}

function isPermissionDenied(error: unknown): error is Error {
  return isElectError(error) && error.code === ErrorCode.PermissionDenied;
}

/** The backend refused something to our credentials: say what, as whom (never the password), and exit 77. */
function permissionDenied(logger: Logger, options: Options, error: Error): number {
  const user = options.user === undefined ? undefined : options.user.slice(0, options.user.indexOf(':'));
  logger.error(
    { err: error, event: 'permission-denied', user: user ?? null },
    `permission denied ${user === undefined ? 'without --user' : `as user ${user}`}: ${error.message}; exiting ${ExitCode.NoPermission}`,
  );
  return ExitCode.NoPermission;
}

async function closeQuietly(logger: Logger, clock: Clock, timeoutMs: number, close: () => Promise<void>): Promise<void> {
  try {
    const result = await within(clock, close().then(() => 'closed' as const), timeoutMs);
    if (result === undefined) logger.warn({ event: 'close-timeout' }, 'closing the connection timed out; the server will end the session/lease');
  } catch (error) {
    logger.warn({ err: error }, 'closing the connection failed; the server will end the session/lease');
  }
}
