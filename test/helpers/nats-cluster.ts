export * from '../../scripts/lib/nats-cluster.js';
