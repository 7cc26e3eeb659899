'use strict';
// portpool for Node.js: each lease is a `portpool lease` process that holds one port of a
// service's pool for as long as this process keeps the pipe to it open. Plain JavaScript, no
// native code: the `portpool` command does the locking, and the operating system releases the
// port when this process dies, however it dies.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const exitCodes = Object.freeze({
  usage: 64,
  systemFailure: 71,
  poolExhausted: 75,
  unsafeLockDir: 77,
  badConfig: 78,
});

/** Base of every error this package throws; `exitCode` is the portpool command's. */
class PortpoolError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}
/** Wrong arguments: an unknown service, an instance out of range, a missing worker variable. */
class UsageError extends PortpoolError {}
/**
 * No port of the pool could be taken. `refusals` says, for each port of the pool, why
 * (`{ port, reason, holder, detail }`, reason one of 'held', 'in_use', 'blocked_port',
 * 'lock_unusable', 'claimed_elsewhere'); `holders` are the holders among them.
 */
class PoolExhaustedError extends PortpoolError {
  constructor(message, exitCode, refusals) {
    super(message, exitCode);
    this.refusals = refusals;
    this.holders = refusals.filter((refusal) => refusal.holder).map((refusal) => refusal.holder);
  }
}
/** The lock directory is unsafe (a symbolic link, another user's, writable by others) or unusable. */
class LockDirError extends PortpoolError {}
/** The config file is unreadable or invalid. */
class ConfigError extends PortpoolError {}
/** The `portpool` command cannot be found or run, or the system refused something. */
class SystemFailureError extends PortpoolError {}

const errorTypes = new Map([
  [exitCodes.usage, UsageError],
  [exitCodes.poolExhausted, PoolExhaustedError],
  [exitCodes.unsafeLockDir, LockDirError],
  [exitCodes.badConfig, ConfigError],
]);

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The `portpool` command: `$PORTPOOL_BIN`, else the first `portpool` on `PATH`. */
function findCommand() {
  const configured = process.env.PORTPOOL_BIN;
  if (configured) {
    if (!isExecutable(configured)) {
      throw new SystemFailureError(`PORTPOOL_BIN is ${configured}, which is not an executable file`, null);
    }
    return configured;
  }
  for (const directory of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(directory || '.', 'portpool');
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  throw new SystemFailureError(
    "the portpool command is not on PATH: install it, or set PORTPOOL_BIN to its path", null);
}

function commonArguments(options) {
  const list = [];
  if (options.config) {
    list.push('--config', String(options.config));
  }
  if (options.lockDir) {
    list.push('--lock-dir', String(options.lockDir));
  }
  return list;
}

/** The version of the portpool command's machine output that this package reads. */
const formatVersion = 2;

// The command's output in a format this package reads, or an error saying how to match them.
function checkedFormat(output) {
  if (output.format_version !== formatVersion) {
    throw new SystemFailureError(
      `the portpool command (${findCommand()}) writes output format ${output.format_version ?? 'without a version'}, ` +
        `this package reads format ${formatVersion}: install the portpool command and this package from one release`,
      null);
  }
  return output;
}

function commandError(stderr, exitCode, refusals) {
  const message = stderr.trim().replace(/^portpool: /gm, '').replace(/\nsee 'portpool --help'$/, '') ||
    `portpool exited with status ${exitCode}`;
  const Type = errorTypes.get(exitCode) || SystemFailureError;
  return Type === PoolExhaustedError ? new Type(message, exitCode, refusals) : new Type(message, exitCode);
}

// A refusal of `lease --json`'s report, its holder shaped as status() gives holders (the report
// does not say whether the port is reserved).
function refusalOf(reported) {
  return {
    port: reported.port,
    reason: reported.reason,
    holder: reported.holder ? { ...reported.holder, reserved: null } : null,
    detail: reported.detail,
  };
}

/** Runs `portpool ARGS --json` and parses its output. */
function runJson(commandArguments) {
  return new Promise((resolve, reject) => {
    execFile(findCommand(), commandArguments, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new SystemFailureError(`cannot run portpool: ${error.message}`, null));
      } else if (error) {
        reject(commandError(stderr, error.code, []));
      } else {
        try {
          resolve(checkedFormat(JSON.parse(stdout)));
        } catch (problem) {
          reject(problem);
        }
      }
    });
  });
}

/** Who holds which port now: `portpool status --json`. */
async function status(options = {}) {
  const result = await runJson(['status', '--json', ...commonArguments(options)]);
  return result.holders;
}

/** The services and their pools for one instance: `portpool table --json`. */
async function table(options = {}) {
  const instance = options.instance === undefined ? [] : ['--instance', String(options.instance)];
  return runJson(['table', '--json', ...instance, ...commonArguments(options)]);
}

/** One port, held until release() or the end of this process. */
class Lease {
  constructor(child, line) {
    this.port = line.port;
    this.service = line.service;
    this.transport = line.transport ?? 'tcp';  // a portpool before transports held TCP ports only
    this.instance = line.instance;
    this.instanceId = line.instance_id;
    this.lockDir = line.lock_dir;
    this.pid = child.pid;
    this._child = child;
    this._exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
      } else {
        child.once('exit', () => resolve());
      }
    });
  }

  /** True until release() (or until the lease process was killed from outside). */
  get held() {
    return this._child.exitCode === null && this._child.signalCode === null;
  }

  /** Gives the port back; resolves once it is free for others. */
  async release() {
    this._child.ref();  // keeps this process alive until the port is free
    if (this._child.stdin && !this._child.stdin.destroyed) {
      this._child.stdin.end();
    }
    await this._exited;
  }

  /** release(), for `await using lease = await acquire(...)`. */
  [Symbol.asyncDispose]() {
    return this.release();
  }
}

// `signal`: an AbortSignal that gives up the acquisition (a wait included).
function checkedSignal(signal) {
  if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
    throw new UsageError('signal is not an AbortSignal: give one from an AbortController, or leave it out',
      exitCodes.usage);
  }
  return signal ?? undefined;
}

// `wait`: milliseconds (a number) to wait for a port of an exhausted pool, as `lease --wait`.
function waitArguments(wait) {
  if (wait === undefined || wait === null) {
    return [];
  }
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) {
    throw new UsageError(`wait is ${JSON.stringify(wait)}: give a number of milliseconds (0 or more)`, exitCodes.usage);
  }
  const milliseconds = Math.floor(wait);
  return milliseconds > 0 ? ['--wait', `${milliseconds}ms`] : [];
}

function leaseArguments(service, options) {
  const list = ['lease', '--json', '--parent-pid', String(process.pid)];
  if (options.instance !== undefined) {
    list.push('--instance', String(options.instance));
  }
  return [...list, ...waitArguments(options.wait), ...commonArguments(options), String(service)];
}

// The lease process must not keep this process alive, nor be kept open by it beyond its life:
// it ends by itself when this process exits (end of its input, and the parent-death signal).
function detachFromEventLoop(child) {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    if (stream && typeof stream.unref === 'function') {
      stream.unref();
    } else if (stream && stream._handle && typeof stream._handle.unref === 'function') {
      stream._handle.unref();
    }
  }
}

// The lease's line, or (exit code 75) the exhaustion report that `lease --json` prints instead:
// the refusals come from the one failed call, not from a second look at who holds what.
function readLeaseLine(child) {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let exhaustion = null;
    let settled = false;
    const settle = (action) => {
      if (!settled) {
        settled = true;
        action();
      }
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      stderr += text;
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      stdout += text;
      const end = stdout.indexOf('\n');
      if (end >= 0 && exhaustion === null && !settled) {
        let line;
        try {
          line = checkedFormat(JSON.parse(stdout.slice(0, end)));
        } catch (problem) {
          child.stdin.end();  // a lease process ends at the end of its input
          settle(() => reject(problem));
          return;
        }
        if (line.error === 'pool_exhausted') {
          exhaustion = line;
        } else {
          settle(() => resolve(new Lease(child, line)));
        }
      }
    });
    child.once('error', (error) => settle(() => reject(new SystemFailureError(`cannot run portpool: ${error.message}`, null))));
    child.once('close', (code) => {
      if (settled) {
        return;
      }
      settled = true;
      const refusals = code === exitCodes.poolExhausted && exhaustion ? exhaustion.refusals.map(refusalOf) : [];
      reject(commandError(stderr, code, refusals));
    });
  });
}

/**
 * Takes a port of `service`'s pool and holds it until `lease.release()` or the end of this
 * process (even by SIGKILL). With `options.wait` (milliseconds), an exhausted pool is waited for
 * until one of its ports is released; PoolExhaustedError when none is by then. With
 * `options.signal` (an AbortSignal), aborting gives up the acquisition: the promise rejects with
 * the signal's reason and nothing stays held.
 */
async function acquire(service, options = {}) {
  const signal = checkedSignal(options.signal);
  signal?.throwIfAborted();
  const child = spawn(findCommand(), leaseArguments(service, options), { stdio: ['pipe', 'pipe', 'pipe'] });
  // A lease process whose input ends before it holds a port gives up and exits, holding nothing.
  const giveUp = () => child.stdin.end();
  signal?.addEventListener('abort', giveUp, { once: true });
  try {
    const lease = await readLeaseLine(child);
    detachFromEventLoop(child);
    return lease;
  } catch (error) {
    if (signal?.aborted) {
      throw signal.reason;
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', giveUp);
  }
}

module.exports = {
  acquire,
  status,
  table,
  findCommand,
  Lease,
  PortpoolError,
  UsageError,
  PoolExhaustedError,
  LockDirError,
  ConfigError,
  SystemFailureError,
  exitCodes,
  formatVersion,
};
// `import portpool from 'portpool'` compiled to CommonJS without esModuleInterop reads `.default`.
module.exports.default = module.exports;
