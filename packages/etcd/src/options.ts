/**
 * The one options object of `connectEtcd`, validated up front: a bad value is
 * an `InvalidOptionError` naming the option, thrown before any connection is
 * made. Defaults live here, but for the options every connection shares:
 * core's `sessionSettings` and `requestTimeouts` check those.
 */
import { InvalidOptionError, type Clock, type Logger, type SessionTelemetry } from '@elect/core';
import { durationOption, knownKeys, requestTimeouts, sessionSettings, type SessionSettings } from '@elect/core/backend';

export interface EtcdTlsOptions {
  /** CA certificate(s) that signed the server's certificate (PEM). Omit to trust the system's roots. */
  ca?: string | Buffer;
  /** Client certificate (PEM), for servers started with `--client-cert-auth`. Needs `key`. */
  cert?: string | Buffer;
  /** Private key of `cert` (PEM). */
  key?: string | Buffer;
}

export interface EtcdConnectionOptions {
  /** `http(s)://host:port` or `host:port`, as an array or one comma-separated string. */
  endpoints: string | readonly string[];
  /**
   * Lease TTL. etcd grants whole seconds, so this is rounded *up* to the next
   * second (2500 → 3000); at least 2000 (etcd's floor with default server
   * timing). It bounds how long a crashed leader keeps the election: the loss
   * deadline and failover both follow from it. Default 10 000.
   */
  ttlMs?: number;
  /** How long `connectEtcd` tries before rejecting with `ConnectionError`. Default 10 000. */
  connectTimeoutMs?: number;
  /** Deadline of every unary call (a hung member otherwise hangs a call for minutes). Default 5000. */
  operationTimeoutMs?: number;
  /** How much earlier than the server we give leadership up. Default: core's `defaultSafetyMarginMs(ttl)`. */
  safetyMarginMs?: number;
  /** Prepended to every key on the wire (like Go's `namespace.NewKV`). Default none. */
  namespace?: string;
  /** etcd user (needs `password`). */
  username?: string;
  password?: string;
  /** TLS settings; endpoints without a scheme then use https. */
  tls?: EtcdTlsOptions;
  /** pino-shaped logger; `debug` gets `{ event: 'wake' }` for each wake of a waiting candidate. */
  logger?: Logger;
  /** Time source of the loss deadline (tests inject a manual one). */
  clock?: Clock;
  /** Told the session's status and each keepalive's round trip (e.g. `@elect/metrics`). */
  telemetry?: SessionTelemetry;
}

export interface ResolvedOptions extends SessionSettings {
  /** `host:port` per endpoint, in the order given. */
  hosts: string[];
  secure: boolean;
  ttlSeconds: number;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  namespace: string;
  auth: { username: string; password: string } | undefined;
  tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined } | undefined;
}

const allowed = [
  'endpoints', 'ttlMs', 'connectTimeoutMs', 'operationTimeoutMs', 'safetyMarginMs', 'namespace',
  'username', 'password', 'tls', 'logger', 'clock', 'telemetry',
] as const;

export function resolveOptions(options: EtcdConnectionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
  knownKeys('connectEtcd', options, allowed);
  const ttlMs = durationOption('ttlMs', options.ttlMs, 10_000, { min: 2_000, max: 9_000_000_000 });
  const ttlSeconds = Math.ceil(ttlMs / 1000);
  const tls = tlsOption(options.tls);
  const { hosts, secure } = endpointsOption(options.endpoints, tls !== undefined);
  const given = options as unknown as Record<string, unknown>;
  return {
    hosts,
    secure,
    ttlSeconds,
    ...requestTimeouts(given),
    ...sessionSettings(given, ttlSeconds * 1000),
    namespace: namespaceOption(options.namespace),
    auth: authOption(options.username, options.password),
    tls,
  };
}

function endpointsOption(value: unknown, tls: boolean): { hosts: string[]; secure: boolean } {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : undefined;
  if (list === undefined) throw new InvalidOptionError('endpoints', 'must be an array of URLs or a comma-separated string');
  const hosts: string[] = [];
  const schemes = new Set<string>();
  for (const raw of list) {
    if (typeof raw !== 'string' || raw.trim() === '') throw new InvalidOptionError('endpoints', `contains an empty or non-string entry`);
    const text = raw.trim();
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `${tls ? 'https' : 'http'}://${text}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new InvalidOptionError('endpoints', `${JSON.stringify(text)} is not a URL or host:port`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidOptionError('endpoints', `${JSON.stringify(text)}: only http:// and https:// are supported`);
    }
    if (url.pathname !== '/' && url.pathname !== '') throw new InvalidOptionError('endpoints', `${JSON.stringify(text)} must not have a path`);
    schemes.add(url.protocol);
    hosts.push(`${url.hostname}:${url.port || '2379'}`);
  }
  if (hosts.length === 0) throw new InvalidOptionError('endpoints', 'must name at least one endpoint');
  if (schemes.size > 1) throw new InvalidOptionError('endpoints', 'must not mix http:// and https://');
  const secure = schemes.has('https:');
  if (tls && !secure) throw new InvalidOptionError('endpoints', 'must use https:// (or no scheme) when tls is set');
  return { hosts, secure };
}

function tlsOption(value: unknown): ResolvedOptions['tls'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError('tls', 'must be an object { ca, cert, key }');
  knownKeys('tls', value, ['ca', 'cert', 'key']);
  const { ca, cert, key } = value as EtcdTlsOptions;
  const pem = (name: string, v: unknown): Buffer | undefined => {
    if (v === undefined) return undefined;
    if (Buffer.isBuffer(v)) return v;
    if (typeof v === 'string' && v.includes('-----BEGIN')) return Buffer.from(v);
    throw new InvalidOptionError(`tls.${name}`, 'must be PEM text (a string or Buffer), not a file name');
  };
  const resolved = { ca: pem('ca', ca), cert: pem('cert', cert), key: pem('key', key) };
  if ((resolved.cert === undefined) !== (resolved.key === undefined)) {
    throw new InvalidOptionError(resolved.cert ? 'tls.key' : 'tls.cert', 'a client certificate needs both cert and key');
  }
  return resolved;
}

function namespaceOption(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new InvalidOptionError('namespace', 'must be a string');
  if (value.includes('\0')) throw new InvalidOptionError('namespace', 'must not contain NUL');
  return value;
}

function authOption(username: unknown, password: unknown): ResolvedOptions['auth'] {
  if (username === undefined && password === undefined) return undefined;
  if (typeof username !== 'string' || username === '') throw new InvalidOptionError('username', 'must be a non-empty string when password is set');
  if (typeof password !== 'string') throw new InvalidOptionError('password', 'must be a string when username is set');
  return { username, password };
}
