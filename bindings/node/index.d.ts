// Type declarations of the portpool package.

/** Where the port table and the locks come from; both default to the portpool command's defaults. */
export interface CommonOptions {
  /** A TOML file with the port table (default: the file the portpool command finds, else its built-in example table). */
  config?: string;
  /** The lock directory (default: $PORTPOOL_LOCK_DIR, else $XDG_RUNTIME_DIR/portpool, else /tmp/portpool-<uid>). */
  lockDir?: string;
}

export interface AcquireOptions extends CommonOptions {
  /**
   * The instance whose pools to use: a number (default 1), 'auto' (the lowest free instance,
   * held with the port), 'from-env' (the test runner's worker: JEST_WORKER_ID, VITEST_POOL_ID,
   * TEST_PARALLEL_INDEX, MOCHA_WORKER_ID, NEXTEST_TEST_GLOBAL_SLOT, PYTEST_XDIST_WORKER) or
   * 'from-env=VAR' (the number in $VAR; 'from-env=VAR+1' when $VAR counts from 0).
   */
  instance?: number | 'auto' | 'from-env' | `from-env=${string}`;
  /**
   * When the pool is exhausted, how many milliseconds to wait for one of its ports to be released
   * (default: no wait). PoolExhaustedError, naming the holders, when none is by then.
   */
  wait?: number;
  /**
   * Gives up the acquisition (a wait included) when aborted: the promise rejects with the
   * signal's reason, and nothing stays held.
   */
  signal?: AbortSignal;
}

export interface TableOptions extends CommonOptions {
  instance?: number;
}

/** Which socket types a port is held for: TCP, UDP, or both at once (`transport` in the config file). */
export type Transport = 'tcp' | 'udp' | 'both';

/** One live holder of a port, as `portpool status --json` reports it. */
export interface Holder {
  port: number;
  service: string;
  /** The socket types the port is held for. */
  transport: Transport;
  /** The holder as users know it: for a port taken through `portpool lease` (this package), the
   * program that asked for it. */
  pid: number;
  /** The `portpool lease` process holding the lock for `pid`, or null when `pid` holds it itself. */
  helper_pid: number | null;
  instance: number;
  instance_id: string;
  /** ISO 8601, UTC. */
  since: string;
  /** Whether the service said it is ready (`portpool run --ready`). */
  readiness: 'starting' | 'ready' | 'unknown';
  /** What the holder said about its service (`portpool run --protocol/--health/--service-version`), or null. */
  protocol: string | null;
  /** The path of its health check, or null. */
  health: string | null;
  version: string | null;
  tags: string[];
  meta: Record<string, string>;
  /** Whether the port is safe from the kernel's ephemeral range (null: unknown). */
  reserved: boolean | null;
  /** False when the record comes from a shared lock directory's lock file, which any member of the
   * directory could have written (docs/security.md). */
  verified: boolean;
}

export interface TableService {
  name: string;
  ports: number[];
  shared: boolean;
  /** The socket types the service serves its port with. */
  transport: Transport;
  reserved: boolean | null;
}

export interface Table {
  instance: number;
  services: TableService[];
  /** The config file the table was loaded from, or null for the command's built-in example table. */
  source: string | null;
}

/** One port, held until release() or the end of this process (even by SIGKILL). */
export declare class Lease {
  readonly port: number;
  readonly service: string;
  /** The socket types the port is held for (the service's `transport` in the config file). */
  readonly transport: Transport;
  readonly instance: number;
  readonly instanceId: string;
  readonly lockDir: string;
  /** The pid of the `portpool lease` process that holds the port. */
  readonly pid: number;
  readonly held: boolean;
  /** Gives the port back; resolves once it is free for others. */
  release(): Promise<void>;
}

/** Takes a port of `service`'s pool. Rejects with one of the errors below. */
export declare function acquire(service: string, options?: AcquireOptions): Promise<Lease>;
/** Who holds which port now. */
export declare function status(options?: CommonOptions): Promise<Holder[]>;
/** The services and their pools for one instance. */
export declare function table(options?: TableOptions): Promise<Table>;
/** The path of the portpool command: $PORTPOOL_BIN, else `portpool` on PATH. */
export declare function findCommand(): string;

export declare class PortpoolError extends Error {
  /** The portpool command's exit code, or null when it could not be run. */
  readonly exitCode: number | null;
}
export declare class UsageError extends PortpoolError {}
/** Why one port of an exhausted pool was not handed out. */
export interface Refusal {
  port: number;
  /**
   * held: a portpool holder has it (named in `holder`); in_use: another program listens on it;
   * blocked_port: browsers and fetch() refuse it; lock_unusable: its lock file cannot guard it;
   * claimed_elsewhere: another host claims it (fleet pools).
   */
  reason: 'held' | 'in_use' | 'blocked_port' | 'lock_unusable' | 'claimed_elsewhere';
  /** The holder, for 'held' (null when its record was not written yet, and for the other reasons). */
  holder: Holder | null;
  /** The explanation in words, as in the message. */
  detail: string;
}

export declare class PoolExhaustedError extends PortpoolError {
  /** Why each port of the pool was refused, from the failed call itself. */
  readonly refusals: Refusal[];
  /** The holders among the refusals (their `reserved` is null: the failed call does not tell). */
  readonly holders: Holder[];
}
export declare class LockDirError extends PortpoolError {}
export declare class ConfigError extends PortpoolError {}
export declare class SystemFailureError extends PortpoolError {}

export declare const exitCodes: Readonly<{
  usage: 64;
  systemFailure: 71;
  poolExhausted: 75;
  unsafeLockDir: 77;
  badConfig: 78;
}>;

/** The version of the portpool command's machine output that this package reads. */
export declare const formatVersion: 1;

/**
 * The package as one object, for `import portpool from 'portpool'` (in CommonJS with or without
 * `esModuleInterop`, and in ES modules).
 */
declare const portpool: {
  acquire: typeof acquire;
  status: typeof status;
  table: typeof table;
  findCommand: typeof findCommand;
  Lease: typeof Lease;
  PortpoolError: typeof PortpoolError;
  UsageError: typeof UsageError;
  PoolExhaustedError: typeof PoolExhaustedError;
  LockDirError: typeof LockDirError;
  ConfigError: typeof ConfigError;
  SystemFailureError: typeof SystemFailureError;
  exitCodes: typeof exitCodes;
  formatVersion: typeof formatVersion;
};
export default portpool;
