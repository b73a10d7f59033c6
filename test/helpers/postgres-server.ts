import { after, before } from 'node:test';
import type { PostgresConfig } from '../../daemon/store/database-config.js';
import { PostgresServer } from '../../scripts/lib/postgres-server.js';

export * from '../../scripts/lib/postgres-server.js';

/** A suite's PostgreSQL server, once its `before` has run. */
export interface PostgresSuite {
  readonly server: PostgresServer;
  /** The store's configuration for `database` on the suite's server (as user postgres, no TLS). */
  config(database: string): PostgresConfig;
}

/** Starts a PostgreSQL server before the enclosing `describe`'s tests and stops it after them. */
export function postgresForSuite(): PostgresSuite {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => server?.stop());
  return {
    get server() {
      if (!server) throw new Error('the PostgreSQL server is not started yet (use it inside a test or a before hook)');
      return server;
    },
    config: (database) => ({ host: '127.0.0.1', port: server!.port, user: 'postgres', password: undefined, database, sslMode: 'disable', sslRootCert: undefined }),
  };
}
