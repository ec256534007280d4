/**
 * @elect/cli as a library: `run()` is the `elect` command; the rest is
 * exported for tests and for people embedding the supervisor.
 */
export { run, defaultDeps } from './main.js';
export { ExitCode, signalExitCode } from './exit-codes.js';
export { parseDuration, formatDuration } from './duration.js';
export { resolveOptions, UsageError, defaults, envName, exportedVars, stopMarginMs, maxStopMs, maxGraceMs } from './options.js';
export type { Backend, CommandName, InspectOptions, LogLevel, Options, ParsedFlags, RunOptions } from './options.js';
export { parseArgs, type ParseOutcome } from './args.js';
export { resolveCommand, type Resolved } from './command.js';
export { supervise, type TermOptions, type TermResult } from './supervise.js';
export { startWatchdog } from './watchdog.js';
export { gateEnv } from './run-command.js';
export { Gates, spawnGated, type GateExit, type Gated } from './gate.js';
export { createLogger, stderrSink, type LogSink, type Logger } from './log.js';
export { exitStatus, forwardedSignals, groupExists, signalGroup } from './process-group.js';
export type { ConnectFn, Connection, ConnectSettings, KillFn, Output, RunDeps, SignalSource, SpawnFn, Watchdog, WatchdogFactory } from './deps.js';
