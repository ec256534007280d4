// One test runs a campaign in a separate process, from dist/: build it once first.
import { buildProject } from '../../../jest.base.js';

export default function buildEtcd() {
  buildProject('packages/etcd', 'the etcd backend for its tests', ['core', 'etcd']);
}
