/**
 * The container engine: environment defaults for testcontainers, the runtime
 * client, and the image names.
 */
import { existsSync } from 'node:fs';
import type { ContainerRuntimeClient } from 'testcontainers';
import type { EngineEndpoint } from './watchdog.js';

/** A private engine's socket, used when there is no standard one (elect's scripts/start-dockerd.sh runs one there). */
export const ELECT_DOCKER_SOCKET = '/run/elect-docker/docker.sock';

/**
 * Default images: the official names people pull. Equivalents built offline
 * (elect's docker/build-images.sh) may carry the same names.
 */
export const DEFAULT_ZOOKEEPER_IMAGE = 'zookeeper:3.8';
export const DEFAULT_ETCD_IMAGE = 'quay.io/coreos/etcd:v3.4.23';

export function zooKeeperImage(): string {
  return process.env.ELECT_TEST_ZK_IMAGE || DEFAULT_ZOOKEEPER_IMAGE;
}

export function etcdImage(): string {
  return process.env.ELECT_TEST_ETCD_IMAGE || DEFAULT_ETCD_IMAGE;
}

/**
 * Fills in what testcontainers needs, only where the user said nothing:
 * - DOCKER_HOST: our private engine's socket when there is no standard one;
 * - TESTCONTAINERS_RYUK_DISABLED: our containers are removed by a watchdog
 *   process of ours (see watchdog.ts), so no reaper image has to be pulled
 *   (none can be, without a registry);
 * - TESTCONTAINERS_HOST_OVERRIDE: containers use host networking, so the
 *   host is always 127.0.0.1 (without it, a /.dockerenv file makes
 *   testcontainers go looking for a bridge gateway).
 */
function applyEnvironmentDefaults(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.DOCKER_HOST && !existsSync('/var/run/docker.sock') && existsSync(ELECT_DOCKER_SOCKET)) {
    env.DOCKER_HOST = `unix://${ELECT_DOCKER_SOCKET}`;
  }
  env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
}

let client: Promise<ContainerRuntimeClient> | undefined;

/** The testcontainers runtime client; rejects when no engine answers. */
export function runtimeClient(): Promise<ContainerRuntimeClient> {
  if (!client) {
    applyEnvironmentDefaults();
    // testcontainers loads only when a container is wanted: importing this
    // package for its proxy or its timing helpers costs nothing.
    client = import('testcontainers').then(({ getContainerRuntimeClient }) => getContainerRuntimeClient());
    // A failed lookup is not cached: an engine may be started later.
    client.catch(() => {
      client = undefined;
    });
  }
  return client;
}

/** True when a container engine answers (testcontainers finds one in a few ms or not at all). */
export async function containerEngineAvailable(): Promise<boolean> {
  try {
    await runtimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the engine listens, for the watchdog process: a unix socket path or
 * an http base URL, read from the client testcontainers actually chose.
 */
export function engineEndpoint(rc: ContainerRuntimeClient): EngineEndpoint {
  const modem = rc.container.dockerode.modem as {
    socketPath?: string;
    host?: string;
    port?: number | string;
    protocol?: string;
  };
  if (modem.socketPath) return { socketPath: modem.socketPath };
  const protocol = modem.protocol === 'https' ? 'https' : 'http';
  return { baseUrl: `${protocol}://${modem.host ?? '127.0.0.1'}:${modem.port ?? 2375}` };
}

/** Throws a helpful error when an image is neither present nor pullable. */
export async function imageHint(rc: ContainerRuntimeClient, image: string, cause: unknown): Promise<Error> {
  let present = true;
  try {
    const { ImageName } = await import('testcontainers');
    present = await rc.image.exists(ImageName.fromString(image));
  } catch {
    // Keep the original error below.
  }
  if (present) return cause instanceof Error ? cause : new Error(String(cause));
  return new Error(
    `image ${image} is not available and could not be pulled; build it offline with ` +
      `elect's docker/build-images.sh, pull it, or name another image (the \`image\` option, or ELECT_TEST_ZK_IMAGE / ELECT_TEST_ETCD_IMAGE)`,
    { cause },
  );
}
