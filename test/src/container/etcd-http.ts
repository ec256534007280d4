/**
 * Real requests to etcd through its v3 JSON gateway over HTTP, so that
 * readiness and leader checks need no gRPC client. Each request has its own
 * short timeout so a paused server cannot hang the caller.
 * (ZooKeeper's counterpart is ../fourletter.ts.)
 */
import { request } from 'node:http';

/** POSTs a JSON body to etcd's gRPC gateway and resolves with the parsed answer. */
export function etcdPost<T>(baseUrl: string, path: string, body: unknown, timeoutMs = 1000): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${baseUrl}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`etcd ${path} answered ${res.statusCode}: ${text.trim()}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`etcd ${path} at ${baseUrl} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A linearizable read (goes through the raft leader): proves the member serves. */
export async function etcdServes(baseUrl: string, timeoutMs?: number): Promise<void> {
  await etcdPost(baseUrl, '/v3/kv/range', { key: Buffer.from('elect-harness-probe').toString('base64') }, timeoutMs);
}

export interface EtcdStatus {
  /** This member's id (decimal string). */
  memberId: string;
  /** The raft leader's id as this member sees it ('0' when none). */
  leaderId: string;
}

export async function etcdStatus(baseUrl: string, timeoutMs?: number): Promise<EtcdStatus> {
  const status = await etcdPost<{ header?: { member_id?: string }; leader?: string }>(
    baseUrl,
    '/v3/maintenance/status',
    {},
    timeoutMs,
  );
  return { memberId: status.header?.member_id ?? '', leaderId: status.leader ?? '0' };
}

/** Member names by id (decimal string), as the cluster lists them. */
export async function etcdMemberNames(baseUrl: string, timeoutMs?: number): Promise<Map<string, string>> {
  const list = await etcdPost<{ members?: { ID?: string; name?: string }[] }>(
    baseUrl,
    '/v3/cluster/member/list',
    {},
    timeoutMs,
  );
  return new Map((list.members ?? []).map((m) => [m.ID ?? '', m.name ?? '']));
}
