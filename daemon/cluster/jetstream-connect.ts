import { credsAuthenticator, nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import type { NatsConnectionConfig } from './jetstream-config.js';

/**
 * The client's options for a configured login and TLS. A `tls` block (a CA, or a client
 * certificate) makes the client insist on TLS, as a `tls://` server URL does.
 */
export function connectOptions(c: NatsConnectionConfig): Partial<ConnectionOptions> {
  const encode = (text: string) => new TextEncoder().encode(text.trim());
  const authenticator = c.user !== undefined
    ? usernamePasswordAuthenticator(c.user, c.password)
    : c.token !== undefined
      ? tokenAuthenticator(c.token)
      : c.nkeySeed !== undefined
        ? nkeyAuthenticator(encode(c.nkeySeed))
        : c.credentials !== undefined
          ? credsAuthenticator(encode(c.credentials))
          : undefined;
  return {
    servers: [...c.servers],
    ...(authenticator && { authenticator }),
    ...(c.tls && { tls: { ...c.tls } }),
  };
}
