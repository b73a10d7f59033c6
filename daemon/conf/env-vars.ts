import { ConfigError } from '../errors.js';
import type { Property } from './properties.js';

/** `${NAME}` or `${NAME:-default}`: an environment variable's name, as Flume's EnvVarResolverProperties reads it, and the shell's default. */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` in every value with the variable's value, so one file serves a whole
 * fleet (and compose). Unlike Flume, which puts an empty string for an unset variable, an
 * unset one stops start-up naming the file, line, key and variable: an empty server list or
 * directory would fail later and less clearly. `${NAME:-default}` (the shell's form) takes
 * `default` when NAME is unset or empty; a value made only of such references that comes
 * out empty leaves its key unset, at its default: `a1.http.authToken = ${LOGFLOW_TOKEN:-}`
 * is a token when the variable is set and none when it is not (the Docker image's conf).
 */
export function resolveEnvVars(props: Map<string, Property>, file: string, agentPrefix: string, env: NodeJS.ProcessEnv = process.env): Map<string, Property> {
  for (const [key, prop] of props) {
    // Only the named agent's keys: another agent of the file may name variables set elsewhere.
    if (!key.startsWith(agentPrefix) || !prop.value.includes('${')) continue;
    const value = prop.value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
      if (v === undefined) {
        throw new ConfigError('LF_CONFIG_BAD_VALUE', `${file}:${prop.line}: ${key} names the environment variable ${name}, which is not set`, key, prop.line);
      }
      return v;
    });
    if (value.trim() === '' && prop.value.replace(REFERENCE, '').trim() === '') props.delete(key);
    else props.set(key, { ...prop, value });
  }
  return props;
}
