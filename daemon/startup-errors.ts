import { ConfigError, errorOfThreadFailure, isErrorCode, LogflowError, type ThreadFailure } from './errors.js';
import { permissionHint } from './permission-hint.js';

/**
 * Start-up failures that a setting causes (a port in use, a directory the daemon may not
 * write) are reported as that setting's error: the file, the key to change and why,
 * instead of a bare `listen EADDRINUSE` or `EACCES`.
 */

/** The part of a job's or listener's config a failure points at, relative to its prefix. */
const FAILED_SETTINGS = ['port', 'bind', 'database', 'checkpointDir', 'instance'] as const;
export type FailedSetting = (typeof FAILED_SETTINGS)[number];

export function isFailedSetting(key: unknown): key is FailedSetting {
  return (FAILED_SETTINGS as readonly unknown[]).includes(key);
}

interface SystemError {
  readonly message: string;
  readonly code?: string | undefined;
  readonly syscall?: string | undefined;
  /** The file or directory of the failure: when the daemon may not write it, the hint says whose it is. */
  readonly path?: string | undefined;
  /** The system or SQLite code under a declared `code` (ThreadFailure.cause). */
  readonly cause?: string | undefined;
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'another process listens there: change the port, or stop that process',
  EACCES: 'ports below 1024 need privileges: use a port from 1024 up',
  EADDRNOTAVAIL: 'that address is not one of this machine\'s',
};

const DIRECTORY_HINT = 'the daemon needs read and write access there (run it as the directory\'s owner, or change the key)';

/**
 * What to do about a file or directory the daemon could not use, by the system or SQLite
 * code: a full disk is not fixed by a change of owner, nor a damaged file by a free disk.
 */
export function storageHint(code: string | undefined): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'SQLITE_FULL':
      return 'its file system is full: free space there, or point the key at another one';
    case 'EROFS':
      return 'its file system is mounted read-only: make it writable, or point the key elsewhere';
    case 'SQLITE_READONLY':
      return 'the file is read-only (its permissions, or a read-only mount): the daemon must write it';
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return 'the file is not a SQLite database or is damaged: put back a good copy, or move it away (a new one is made; what it held is lost)';
    default:
      return DIRECTORY_HINT;
  }
}

/** The setting a listener's failure is about: the port, or the bind address; undefined for other failures. */
export function listenSetting(err: SystemError): FailedSetting | undefined {
  if (err.code === 'EADDRINUSE' || (err.code === 'EACCES' && (err.syscall === 'listen' || err.syscall === 'bind' || /\blisten\b/.test(err.message)))) return 'port';
  if (err.code === 'EADDRNOTAVAIL') return 'bind';
  return undefined;
}

/** `err` as the error of `prefix.setting` in `file`, with what to do about it. */
type Setting = FailedSetting | 'spoolDir' | 'trackerDir' | 'positionFile' | `filegroups.${string}`;

export function settingError(file: string, prefix: string, setting: Setting, err: SystemError): ConfigError {
  const key = `${prefix}.${setting}`;
  // The spool and the followed files say what they need in the message itself; so does a
  // PostgreSQL server's refusal (LF_CONFIG_UNUSABLE).
  const ownHint = setting === 'spoolDir' || setting.startsWith('filegroups.') || err.code === 'LF_CONFIG_UNUSABLE';
  const hint = setting === 'port' || setting === 'bind' ? LISTEN_HINTS[err.code ?? ''] : ownershipHint(setting, err.path) ?? (ownHint ? undefined : storageHint(err.cause ?? err.code));
  return new ConfigError('LF_CONFIG_UNUSABLE', `${file}: ${key}: ${err.message}${hint ? `; ${hint}` : ''}`, key);
}

/**
 * Whose the file or directory is that the daemon may not write, and what to do. For the
 * database, SQLite's `-wal` and `-shm` files too: made with the database's mode, they stay
 * read-only after the database itself was given back.
 */
function ownershipHint(setting: Setting, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const kind = setting === 'spoolDir' ? 'spool' : 'state';
  const files = setting === 'database' ? [file, `${file}-wal`, `${file}-shm`] : [file];
  for (const f of files) {
    const hint = permissionHint(f, kind);
    if (hint) return hint;
  }
  return undefined;
}

/**
 * A component's start-up (a listener's, a thread's): a failure to listen becomes its port's
 * (or bind's) error, a thread's SettingFailure its setting's.
 */
export async function listening<T>(file: string, prefix: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof SettingFailure) throw settingError(file, prefix, err.setting, err.failure);
    const setting = listenSetting(err as SystemError);
    throw setting ? settingError(file, prefix, setting, err as SystemError) : err;
  }
}

/** A thread's start-up failure that a setting caused, until `listening` names its key (settingError). */
export class SettingFailure extends LogflowError {
  readonly failure: ThreadFailure;
  readonly setting: FailedSetting;
  constructor(failure: ThreadFailure, setting: FailedSetting) {
    super('LF_CONFIG_UNUSABLE', failure.message);
    this.failure = failure;
    this.setting = setting;
  }
}

/**
 * A thread's start-up failure as its host rethrows it. A setting that cannot be used (a
 * port in use, a database that cannot be opened: a system error, or LF_DATABASE) is a
 * SettingFailure, which keeps the system code for the hint; `listening` reports it as that
 * key's error. Any other (a database of a newer schema) keeps its declared code, or
 * LF_THREAD_FAILED, and names the component's key.
 */
export function startFailure(f: ThreadFailure, componentKey?: string): LogflowError {
  const unusable = !isErrorCode(f.code) || f.code === 'LF_DATABASE' || f.code === 'LF_CONFIG_UNUSABLE';
  const setting = isFailedSetting(f.key) ? f.key : listenSetting(f);
  if (unusable && setting) return new SettingFailure(f, setting);
  return errorOfThreadFailure(f, componentKey);
}
