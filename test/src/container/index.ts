/**
 * The container runtime of the real-server harness: ZooKeeper and etcd in
 * containers through testcontainers, with host networking so every server is
 * on 127.0.0.1 at a port the OS chose. Images default to the official names
 * (ELECT_TEST_ZK_IMAGE, ELECT_TEST_ETCD_IMAGE override them);
 * docker/build-images.sh builds equivalents offline under those names.
 */
export { containerEngineAvailable, zooKeeperImage, etcdImage, DEFAULT_ZOOKEEPER_IMAGE, DEFAULT_ETCD_IMAGE } from './engine.js';
export { startZooKeeperContainer } from './zookeeper.js';
export { startEtcdContainer } from './etcd.js';
export { LABEL_TEST, LABEL_RUN, LABEL_CLUSTER } from './cluster.js';
