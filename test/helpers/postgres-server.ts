export * from '../../scripts/lib/postgres-server.js';
