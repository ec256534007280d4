/**
 * Logs: pino JSON lines on stderr, one per event, written synchronously so a
 * process killed right after a line was logged has still written it. Pretty
 * (colourless-safe, one line per event) when stderr is a terminal. stdout is
 * never touched: it belongs to the child or to the inspection output.
 */
import { createRequire } from 'node:module';
import type { Logger as CoreLogger } from '@elect/core';
import pino, { type Logger as Pino } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogLevel } from './options.js';

// pino-pretty is loaded only for a terminal: it takes about 40 ms to load,
// a tenth of a cold start, and a service's logs are JSON anyway.
const requireHere = createRequire(import.meta.url);

/** Where log lines go: anything with a synchronous-enough `write`. */
export interface LogSink {
  write(chunk: string): unknown;
}

export type Logger = Pino;

export function createLogger(level: LogLevel, sink: LogSink, isTTY: boolean): Logger {
  const options = { name: 'elect', level, base: { pid: process.pid } };
  if (!isTTY) return pino(options, sink);
  const pretty = requireHere('pino-pretty') as typeof PinoPretty;
  return pino(
    options,
    pretty({
      destination: sink as NodeJS.WritableStream,
      sync: true,
      // One line per record: the time, the message, then the fields that vary.
      singleLine: true,
      ignore: 'pid,hostname,name,backend,election,id,component',
      messageFormat: '{if component}[{component}] {end}{msg}',
      translateTime: 'HH:MM:ss.l',
    }),
  );
}

/**
 * The logger a backend gets: its records carry `component` (so they are not
 * mistaken for ours) and our bindings (backend, election, candidate id),
 * merged into each record rather than bound, so that a record naming one of
 * them itself keeps its own and no key appears twice in a JSON line.
 */
export function backendLogger(logger: Logger, component: string, bindings: Record<string, string>): CoreLogger {
  const child = logger.child({ component });
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (fields: object, message?: string): void => {
      if (!child.isLevelEnabled(level)) return;
      child[level]({ ...bindings, ...fields }, message);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The real stderr for the bin: fd 2, synchronous (async destinations lose lines on SIGTERM). */
export function stderrSink(): LogSink {
  return pino.destination({ fd: 2, sync: true });
}
