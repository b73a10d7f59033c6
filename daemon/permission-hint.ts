import { accessSync, constants as fsc, statSync } from 'node:fs';
import path from 'node:path';

/**
 * What to do about a file or directory the daemon may not write, as one sentence for a
 * start-up error: whose it is, whose the daemon is, and the ways out (`kind`: the spool, a
 * host directory; or the daemon's state, checkpoints and results, in volumes). Undefined when the
 * daemon may write it (the failure was something else). In the image
 * (`LOGFLOW_CONTAINER=docker`, set by the Dockerfile) the ways out are compose's: the
 * user is LOGFLOW_UID, a restart loop otherwise repeats an error that names neither.
 */
export function permissionHint(target: string, kind: 'spool' | 'state'): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  // The file, or the nearest directory that exists on its way (a file not made yet).
  let at = target;
  for (;;) {
    try {
      accessSync(at, fsc.W_OK);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) break;
      at = path.dirname(at);
    }
  }
  let owner: { uid: number; gid: number; mode: number };
  try {
    owner = statSync(at);
  } catch {
    return undefined;
  }
  const gid = process.getgid?.() ?? uid;
  const mode = (owner.mode & 0o7777).toString(8);
  if (owner.uid === uid) return `${at} belongs to the daemon's uid (${uid}) but is not writable (mode ${mode}): chmod u+w ${at}`;
  const whose = `${at} belongs to uid ${owner.uid} (mode ${mode}) and the daemon runs as uid ${uid}`;
  if (process.env.LOGFLOW_CONTAINER !== 'docker') return `${whose}: run the daemon as uid ${owner.uid}, or give it to uid ${uid} (chown -R ${uid}:${gid} ${at})`;
  if (kind === 'spool') {
    return `${whose}, the container's user (LOGFLOW_UID, default 1000): give the host's spool directory to it (sudo chown -R ${uid}:${gid} spool), or run the container as its owner (LOGFLOW_UID=${owner.uid} LOGFLOW_GID=${owner.gid} docker compose up -d)`;
  }
  return `${whose}, the container's user (LOGFLOW_UID, default 1000; volumes keep the owner that wrote them): run as that uid again (LOGFLOW_UID=${owner.uid} LOGFLOW_GID=${owner.gid} docker compose up -d), give the volumes to uid ${uid} once (docker compose run --rm --user root logflow chown -R ${uid}:${gid} /app/checkpoint /app/data), or start afresh (docker compose down -v: deletes the counts)`;
}
