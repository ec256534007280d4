/**
 * The logging interface backends accept: pino's call shape, so a pino logger
 * can be passed as is. Backends log what matters for operations (connects,
 * suspensions, losses) and, at debug, every wake of a waiting candidate —
 * which is also how tests count wakes without hooks in production code.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/**
 * Stable `event` field values in log records. `wake` is logged at debug level
 * each time a waiting candidate is woken to re-read the queue; in a priority
 * election it carries `touched: true` when what woke it was its own entry
 * (touched by a newcomer that sorted in ahead of it, a take-over or a
 * handover), not what it waited on.
 */
export const LogEvent = {
  Wake: 'wake',
  /** A waiting candidate of a priority election set its watches: `key` (its entry) waits on `on`. */
  Waiting: 'waiting',
  Elected: 'elected',
  Lost: 'lost',
  Suspended: 'suspended',
  Resumed: 'resumed',
  SessionExpired: 'session-expired',
  Connected: 'connected',
} as const;
