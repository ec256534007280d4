/**
 * Opening a connection to the chosen backend. Each backend package is
 * imported only when chosen: etcd's gRPC stack costs a few hundred
 * milliseconds of start-up that a ZooKeeper user should not pay.
 */
import { readFileSync } from 'node:fs';
import type { ConnectFn, Connection, ConnectSettings } from './deps.js';
import { UsageError, usageUnder } from './options.js';

export const connectBackend: ConnectFn = async (s: ConnectSettings): Promise<Connection> => {
  // A name the backend would refuse is refused here, before a session is
  // opened or a lease granted (a usage error: exit 64).
  if (s.backend === 'zk') {
    if (s.tls) throw new UsageError('--cacert, --cert and --key are for etcd; ZooKeeper connections here are plain TCP');
    const { connectZooKeeper, latchPath } = await import('@elect/zk');
    nameChecked(s, latchPath);
    return connectZooKeeper({
      connectString: s.connect,
      sessionTimeoutMs: s.ttlMs,
      connectTimeoutMs: s.connectTimeoutMs,
      ...(s.user === undefined ? {} : { auth: s.user }),
      ...(s.acl === undefined ? {} : { acl: s.acl.entries }),
      logger: s.logger,
      clock: s.clock,
      ...(s.telemetry ? { telemetry: s.telemetry } : {}),
    });
  }
  if (s.acl) throw new UsageError(`${s.acl.source} is for ZooKeeper: etcd guards keys by the roles of the user (--user)`);
  const { connectEtcd, electionName } = await import('@elect/etcd');
  nameChecked(s, electionName);
  const [username, ...rest] = s.user?.split(':') ?? [];
  if (s.user !== undefined && rest.length === 0) throw new UsageError('--user for etcd must be USER:PASSWORD');
  return connectEtcd({
    endpoints: s.connect,
    ttlMs: s.ttlMs,
    connectTimeoutMs: s.connectTimeoutMs,
    ...(s.user === undefined ? {} : { username, password: rest.join(':') }),
    ...(s.tls === undefined ? {} : { tls: readTls(s.tls) }),
    logger: s.logger,
    clock: s.clock,
    ...(s.telemetry ? { telemetry: s.telemetry } : {}),
  });
};

/** The backend's own rule for election names, reported under the name the user wrote. */
function nameChecked(s: ConnectSettings, check: (name: string) => unknown): void {
  try {
    check(s.election);
  } catch (error) {
    throw usageUnder(s.electionSource, error);
  }
}

function readTls(tls: NonNullable<ConnectSettings['tls']>): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (flag: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`--${flag} ${file}: ${(error as Error).message}`);
    }
  };
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const ca = read('cacert', tls.cacert);
  const cert = read('cert', tls.cert);
  const key = read('key', tls.key);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}
