/**
 * Options are validated before any traffic, and an unreachable cluster is a
 * ConnectionError within connectTimeoutMs — refused or silent.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { ConnectionError, InvalidOptionError } from '@elect/core';
import { connectEtcd, type EtcdConnectionOptions } from '@elect/etcd';
import { freePort, scaled, startProxy } from '@elect/test';

jest.setTimeout(scaled(30_000));

async function rejection(options: EtcdConnectionOptions): Promise<InvalidOptionError> {
  const error = await connectEtcd(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidOptionError);
  return error as InvalidOptionError;
}

describe('connectEtcd options', () => {
  const endpoints = 'http://127.0.0.1:1'; // never dialled: validation comes first

  it.each([
    [{ endpoints: [] as string[] }, 'endpoints'],
    [{ endpoints: '' }, 'endpoints'],
    [{ endpoints: ['ftp://x:1'] }, 'endpoints'],
    [{ endpoints: ['http://a:1', 'https://b:1'] }, 'endpoints'],
    [{ endpoints: 'http://a:1/path' }, 'endpoints'],
    [{ endpoints, ttlMs: 1500 }, 'ttlMs'],
    [{ endpoints, ttlMs: Number.NaN }, 'ttlMs'],
    [{ endpoints, connectTimeoutMs: 0 }, 'connectTimeoutMs'],
    [{ endpoints, operationTimeoutMs: -1 }, 'operationTimeoutMs'],
    [{ endpoints, ttlMs: 3000, safetyMarginMs: 3000 }, 'safetyMarginMs'],
    [{ endpoints, username: 'u' }, 'password'],
    [{ endpoints, password: 'p' }, 'username'],
    [{ endpoints, namespace: 'a\0b' }, 'namespace'],
    [{ endpoints: 'http://a:1', tls: {} }, 'endpoints'],
    [{ endpoints: 'a:1', tls: { cert: '-----BEGIN CERTIFICATE-----' } }, 'tls.key'],
    [{ endpoints: 'a:1', tls: { ca: '/etc/ssl/ca.pem' } }, 'tls.ca'],
    [{ endpoints, logger: {} }, 'logger'],
    [{ endpoints, clock: { now: () => 0 } }, 'clock'],
    [{ endpoints, telemetry: { roundTrip: 1 } }, 'telemetry'],
    [{ endpoints, ttl: 3000 }, 'ttl'],
  ] as [EtcdConnectionOptions, string][])('rejects %j naming %s', async (options, option) => {
    expect((await rejection(options)).option).toBe(option);
  });

  it('rejects a refused endpoint with ConnectionError within connectTimeoutMs', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await connectEtcd({ endpoints: `127.0.0.1:${port}`, connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000 + scaled(1500));
  });

  it('rejects a silent endpoint (accepts, never answers) within connectTimeoutMs', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: await freePort() });
    proxy.blackhole();
    try {
      const started = Date.now();
      const error = await connectEtcd({ endpoints: proxy.address, connectTimeoutMs: 1200, operationTimeoutMs: 5000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(Date.now() - started).toBeLessThan(1200 + scaled(1500));
    } finally {
      await proxy.close();
    }
  });
});
