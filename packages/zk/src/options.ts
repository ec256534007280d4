/**
 * `connectZooKeeper()` options: one object, validated at construction time
 * (an `InvalidOptionError` names the option before anything is sent). The
 * defaults are in this file, but for the options every connection shares:
 * core's `sessionSettings` and `requestTimeouts` check those.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import type { ACL } from 'node-zookeeper-client';
import { InvalidOptionError, type Clock, type Logger, type SessionTelemetry } from '@elect/core';
import { durationOption, knownKeys, requestTimeouts, sessionSettings, textOption, type SessionSettings } from '@elect/core/backend';
import { validatePath } from './names.js';

/** One ACL entry, in ZooKeeper's own terms (`setAcl /path digest:bob:HASH:cdrwa`). */
export interface ZooKeeperAcl {
  /** `world`, `auth`, `digest`, `ip`, … */
  scheme: string;
  /** `anyone` for world, `user:base64(sha1(user:password))` for digest, `` for auth (= whoever created it). */
  id: string;
  /** Any of `c` create, `d` delete, `r` read, `w` write, `a` admin, e.g. `cdrwa`. */
  permissions: string;
}

export interface ZooKeeperConnectionOptions {
  /** `host:port[,host:port…][/chroot]`. The chroot must be a valid path; it is created if missing. */
  connectString: string;
  /**
   * Session timeout asked of the server (default 10 000 ms). The server may
   * grant another value within its [min, max]; the loss deadline uses the
   * granted one.
   */
  sessionTimeoutMs?: number;
  /** `connectZooKeeper()` rejects with `ConnectionError` if no server answers within it (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Each request's deadline (default 5 000 ms); a late request rejects with `TimeoutError`. */
  operationTimeoutMs?: number;
  /** How much earlier than the server we give leadership up (default: core's `defaultSafetyMarginMs`). */
  safetyMarginMs?: number;
  /** Digest credentials `user:password`, sent on every (re)connect. */
  auth?: string;
  /**
   * ACL of the election's nodes: its latch path and everything we create
   * under it (default: open to anyone, as Curator's default). Parents made
   * on the way to the latch path are open (a shared root such as `/elect`
   * must stay open to other users' elections): make them yourself first to
   * protect them. A chroot that connecting makes gets this ACL.
   */
  acl?: readonly ZooKeeperAcl[];
  logger?: Logger;
  /** Time source for deadlines and timers (tests inject one). */
  clock?: Clock;
  /** Told the session's status and each heartbeat's round trip (e.g. `@elect/metrics`). */
  telemetry?: SessionTelemetry;
}

export interface ResolvedOptions extends SessionSettings {
  connectString: string;
  /** The chroot part of the connect string, if any. */
  chroot: string | undefined;
  /** The servers without the chroot. */
  servers: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  auth: string | undefined;
  acl: ACL[];
}

/** Open to anyone: ZooKeeper's OPEN_ACL_UNSAFE, Curator's default, and what parents made on the way to an election get. */
export const openAcl: ACL[] = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];

const keys = [
  'connectString',
  'sessionTimeoutMs',
  'connectTimeoutMs',
  'operationTimeoutMs',
  'safetyMarginMs',
  'auth',
  'acl',
  'logger',
  'clock',
  'telemetry',
] as const;

export function resolveOptions(options: ZooKeeperConnectionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
  knownKeys('connectZooKeeper()', options, keys);
  const { servers, chroot } = parseConnectString(options.connectString);
  const sessionTimeoutMs = durationOption('sessionTimeoutMs', options.sessionTimeoutMs, 10_000, { min: 100 });
  const given = options as unknown as Record<string, unknown>;
  const auth = options.auth === undefined ? undefined : authOption(options.auth);
  return {
    connectString: servers + (chroot ?? ''),
    chroot,
    servers,
    sessionTimeoutMs,
    ...requestTimeouts(given),
    ...sessionSettings(given, sessionTimeoutMs),
    auth,
    acl: options.acl === undefined ? openAcl : aclOption(options.acl, auth),
  };
}

function parseConnectString(value: unknown): { servers: string; chroot: string | undefined } {
  const text = textOption('connectString', value, 4096);
  const slash = text.indexOf('/');
  const servers = slash < 0 ? text : text.slice(0, slash);
  const chroot = slash < 0 ? undefined : text.slice(slash);
  for (const server of servers.split(',')) {
    // The library splits host and port at the first colon: no IPv6 literals.
    const match = /^([^\s:,/]+)(?::(\d{1,5}))?$/.exec(server);
    const port = match?.[2] === undefined ? 2181 : Number(match[2]);
    if (!match || port < 1 || port > 65_535) {
      throw new InvalidOptionError('connectString', `expected host:port[,host:port…][/chroot], got ${JSON.stringify(text)}`);
    }
  }
  if (chroot !== undefined && chroot !== '/') validatePath('connectString', chroot);
  return { servers, chroot: chroot === '/' ? undefined : chroot };
}

function authOption(value: unknown): string {
  const text = textOption('auth', value, 1024);
  if (text.indexOf(':') < 1) throw new InvalidOptionError('auth', 'must be "user:password" (digest scheme)');
  return text;
}

const permissionBits: Record<string, number> = {
  r: zookeeper.Permission.READ,
  w: zookeeper.Permission.WRITE,
  c: zookeeper.Permission.CREATE,
  d: zookeeper.Permission.DELETE,
  a: zookeeper.Permission.ADMIN,
};

/** The schemes a ZooKeeper server knows (x509 and sasl only where it is configured for them). */
const schemes = ['world', 'auth', 'digest', 'ip', 'x509', 'sasl'];

/**
 * The ACL of the election's nodes, checked as the server would (it answers
 * INVALID_ACL) and for what we need on them ourselves: `c` and `d` to add and
 * remove candidates under the election's node, `r` to read the queue, `w` to
 * proclaim. What a `world`, `auth` or our own `digest` entry gives us is
 * known here; what an `ip`, `x509` or `sasl` entry gives us is not, so those
 * count only as what they could give.
 */
function aclOption(value: unknown, auth: string | undefined): ACL[] {
  if (!Array.isArray(value) || value.length === 0) throw new InvalidOptionError('acl', 'must be a non-empty array of { scheme, id, permissions }');
  const entries = value.map((entry: unknown, index) => {
    const { scheme, id, permissions } = (entry ?? {}) as Partial<ZooKeeperAcl>;
    const where = `acl[${index}]`;
    if (typeof scheme !== 'string' || !schemes.includes(scheme)) throw new InvalidOptionError(where, `scheme must be one of ${schemes.join(', ')}`);
    if (typeof id !== 'string') throw new InvalidOptionError(where, 'id must be a string');
    if (typeof permissions !== 'string' || !/^[cdrwa]+$/.test(permissions)) {
      throw new InvalidOptionError(where, 'permissions must be letters from "cdrwa"');
    }
    if (scheme === 'world' && id !== 'anyone') throw new InvalidOptionError(where, 'the world scheme has one id, "anyone"');
    if (scheme === 'auth' && auth === undefined) {
      throw new InvalidOptionError(where, 'the auth scheme means "the credentials that create the node": it needs credentials (auth)');
    }
    if (scheme === 'digest' && !/^[^:]+:[^:]+$/.test(id)) throw new InvalidOptionError(where, 'a digest id is USER:HASH, HASH = base64(sha1(USER:PASSWORD))');
    if (scheme === 'ip' && !ipId(id)) throw new InvalidOptionError(where, 'an ip id is an address, with /BITS for a network (10.0.0.0/8)');
    return { scheme, id, permissions };
  });
  const ours = auth === undefined ? undefined : digestId(auth);
  const known = (entry: { scheme: string; id: string }): boolean =>
    entry.scheme === 'world' || entry.scheme === 'auth' || (entry.scheme === 'digest' && entry.id === ours);
  const undecided = entries.some((entry) => !['world', 'auth', 'digest'].includes(entry.scheme));
  const granted = new Set(entries.filter((entry) => known(entry) || (undecided && !['world', 'auth', 'digest'].includes(entry.scheme))).flatMap((entry) => [...entry.permissions]));
  const lacking = [...'cdrw'].filter((letter) => !granted.has(letter));
  if (lacking.length > 0) {
    throw new InvalidOptionError(
      'acl',
      `gives ${auth === undefined ? 'a connection without credentials' : 'these credentials'} no "${lacking.join('')}" on the election's nodes; ` +
        'it needs c, d, r and w there (to add and remove candidates, read the queue, proclaim)',
    );
  }
  return entries.map(({ scheme, id, permissions }) => {
    let perms = 0;
    for (const letter of permissions) perms |= permissionBits[letter] ?? 0;
    return new zookeeper.ACL(perms, new zookeeper.Id(scheme, id));
  });
}

/** An `ip` scheme's id, as the server takes it: an address, or a network `address/bits`. */
function ipId(id: string): boolean {
  const slash = id.indexOf('/');
  const address = slash < 0 ? id : id.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = id.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** ZooKeeper's digest id of `user:password`: `user:base64(sha1(user:password))`. */
function digestId(credentials: string): string {
  const user = credentials.slice(0, credentials.indexOf(':'));
  return `${user}:${createHash('sha1').update(credentials).digest('base64')}`;
}
