'use strict';
// The Node.js package against the real portpool command (PORTPOOL_BIN): real lock files, real
// processes. The package is the copy installed from `npm pack` (installed_package.sh) or the source
// folder (support.js packageDirectory).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');
const { test } = require('node:test');

const { sourceDirectory, packageDirectory, workspace, waitUntil } = require('./support');

const portpool = require(packageDirectory);

const holderScript = path.join(__dirname, 'holder.js');

/** A Node process holding a lease (holder.js), and its first line of output. */
async function startHolder(t, space, service = 'web') {
  const child = spawn(process.execPath, [holderScript, service, space.config, space.lockDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const lines = readline.createInterface({ input: child.stdout });
  const [line] = await Promise.race([
    new Promise((resolve) => lines.once('line', (text) => resolve([text]))),
    new Promise((resolve) => child.once('exit', () => resolve([null]))),
  ]);
  assert.ok(line, 'the holder printed nothing');
  return { child, result: JSON.parse(line) };
}

function listenOn(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test(
  'the package under test is the installed copy PORTPOOL_NODE_PACKAGE names, not a link to the source folder',
  { skip: packageDirectory === sourceDirectory && 'run against the source folder' },
  () => {
    const loaded = fs.realpathSync(require.resolve(packageDirectory));
    assert.ok(loaded.startsWith(fs.realpathSync(packageDirectory) + path.sep), loaded);
    assert.ok(!loaded.startsWith(fs.realpathSync(sourceDirectory) + path.sep), loaded);
  },
);

test('acquire gives a port of the pool, held until release()', async (t) => {
  const space = await workspace(t, 'web', 2);
  const lease = await portpool.acquire('web', { config: space.config, lockDir: space.lockDir });
  assert.equal(lease.port, space.ports[0]);
  assert.equal(lease.service, 'web');
  assert.equal(lease.instance, 1);
  assert.equal(lease.lockDir, space.lockDir);
  assert.ok(lease.held);
  const holders = await portpool.status({ lockDir: space.lockDir });
  // The holder is this program; the `portpool lease` process holds the lock for it.
  assert.deepEqual(holders.map((holder) => [holder.port, holder.pid, holder.helper_pid]),
    [[lease.port, process.pid, lease.pid]]);

  // The service can listen on its port.
  const server = await listenOn(lease.port);
  await new Promise((resolve) => server.close(resolve));

  await lease.release();
  assert.equal(lease.held, false);
  assert.deepEqual(await portpool.status({ lockDir: space.lockDir }), []);
  await lease.release();  // twice is harmless
});

test('two leases never get one port, and an exhausted pool names its holders', async (t) => {
  const space = await workspace(t, 'web', 2);
  const options = { config: space.config, lockDir: space.lockDir };
  const leases = await Promise.all([portpool.acquire('web', options), portpool.acquire('web', options)]);
  assert.deepEqual(leases.map((lease) => lease.port).sort(), [...space.ports].sort());
  await assert.rejects(portpool.acquire('web', options), (error) => {
    assert.ok(error instanceof portpool.PoolExhaustedError);
    assert.ok(error instanceof portpool.PortpoolError);
    assert.equal(error.exitCode, 75);
    assert.match(error.message, /web/);
    assert.deepEqual(error.holders.map((holder) => holder.helper_pid).sort(), leases.map((lease) => lease.pid).sort());
    assert.deepEqual(error.refusals.map((refusal) => refusal.port).sort(), [...space.ports].sort());
    for (const refusal of error.refusals) {
      const lease = leases.find((taken) => taken.port === refusal.port);
      assert.equal(refusal.reason, 'held');
      assert.equal(refusal.holder.pid, process.pid);
      assert.equal(refusal.holder.helper_pid, lease.pid);
      assert.equal(refusal.holder.service, 'web');
      assert.match(refusal.detail, new RegExp(`held by pid ${process.pid} \\(web, instance 1; the lock is its helper's, pid ${lease.pid}\\)`));
    }
    return true;
  });
  await Promise.all(leases.map((lease) => lease.release()));
});

/** Whether a `portpool lease --wait` child of this process is running. */
function waitingLeaseProcessStarted() {
  for (const entry of fs.readdirSync('/proc')) {
    try {
      if (!/^[0-9]+$/.test(entry)) {
        continue;
      }
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes('--wait')) {
        return true;
      }
    } catch {
      // the process ended while it was read
    }
  }
  return false;
}

test('acquire with wait takes the port released while it waits, and names the holders when the wait runs out',
  async (t) => {
    const space = await workspace(t, 'web', 2);
    const options = { config: space.config, lockDir: space.lockDir };
    const leases = await Promise.all([portpool.acquire('web', options), portpool.acquire('web', options)]);
    let waited = null;
    const waiting = portpool.acquire('web', { ...options, wait: 120000 }).then((lease) => {
      waited = lease;
      return lease;
    });
    await waitUntil(waitingLeaseProcessStarted, 'the waiting lease process runs');
    assert.equal(waited, null);
    await leases[1].release();
    const lease = await waiting;
    assert.equal(lease.port, leases[1].port);

    const started = Date.now();
    await assert.rejects(portpool.acquire('web', { ...options, wait: 500 }), (error) => {
      assert.ok(error instanceof portpool.PoolExhaustedError);
      assert.deepEqual(error.holders.map((holder) => holder.helper_pid).sort(), [leases[0].pid, lease.pid].sort());
      return true;
    });
    assert.ok(Date.now() - started >= 500);
    await assert.rejects(portpool.acquire('web', { ...options, wait: '10s' }), portpool.UsageError);
    await Promise.all([leases[0].release(), lease.release()]);
  });

test('an aborted acquisition rejects with the signal\'s reason, waiting or not, and holds nothing', async (t) => {
  const space = await workspace(t, 'web', 1);
  const options = { config: space.config, lockDir: space.lockDir };
  await assert.rejects(portpool.acquire('web', { ...options, signal: AbortSignal.abort() }), { name: 'AbortError' });
  await assert.rejects(portpool.acquire('web', { ...options, signal: 'stop' }), portpool.UsageError);

  const first = await portpool.acquire('web', options);
  const controller = new AbortController();
  const waiting = portpool.acquire('web', { ...options, wait: 120000, signal: controller.signal });
  await waitUntil(waitingLeaseProcessStarted, 'the waiting lease process runs');
  controller.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  await waitUntil(() => !waitingLeaseProcessStarted(), 'the waiting lease process ends');
  await first.release();
  assert.deepEqual(await portpool.status({ lockDir: space.lockDir }), []);

  // An abort after the port is held changes nothing; the lease is released by asyncDispose.
  const late = new AbortController();
  const lease = await portpool.acquire('web', { ...options, signal: late.signal });
  late.abort();
  assert.ok(lease.held);
  await lease[Symbol.asyncDispose]();
  assert.equal(lease.held, false);
});

test('output of another format version is a clear error', async (t) => {
  const space = await workspace(t, 'web', 1);
  const command = path.join(space.dir, 'portpool');
  fs.writeFileSync(command, '#!/bin/sh\necho \'{"format_version": 3, "holders": [], "port": 1}\'\n[ "$1" != lease ] || exec cat >/dev/null\n',
    { mode: 0o755 });
  const saved = process.env.PORTPOOL_BIN;
  process.env.PORTPOOL_BIN = command;
  t.after(() => {
    if (saved === undefined) {
      delete process.env.PORTPOOL_BIN;
    } else {
      process.env.PORTPOOL_BIN = saved;
    }
  });
  for (const call of [() => portpool.status(), () => portpool.acquire('web')]) {
    await assert.rejects(call(), (error) => {
      assert.ok(error instanceof portpool.SystemFailureError);
      assert.match(error.message, /writes output format 3, this package reads format 2/);
      return true;
    });
  }
});

test('an exhausted pool gives each port\'s reason from the one failed call', async (t) => {
  const space = await workspace(t, 'web', 2);
  const options = { config: space.config, lockDir: space.lockDir };
  const lease = await portpool.acquire('web', options);
  const other = space.ports.find((port) => port !== lease.port);
  const server = await listenOn(other);
  t.after(() => server.close());
  await assert.rejects(portpool.acquire('web', options), (error) => {
    assert.ok(error instanceof portpool.PoolExhaustedError);
    assert.equal(error.exitCode, 75);
    assert.match(error.message, /no free port for 'web'/);
    const byPort = new Map(error.refusals.map((refusal) => [refusal.port, refusal]));
    assert.equal(byPort.get(lease.port).reason, 'held');
    assert.equal(byPort.get(lease.port).holder.helper_pid, lease.pid);
    assert.equal(byPort.get(other).reason, 'in_use');
    assert.equal(byPort.get(other).holder, null);
    assert.match(byPort.get(other).detail, /in use by a program outside portpool/);
    assert.deepEqual(error.holders.map((holder) => holder.helper_pid), [lease.pid]);
    return true;
  });
  await lease.release();
});

test('two Node processes never get one port', async (t) => {
  const space = await workspace(t, 'web', 2);
  const holders = await Promise.all([1, 2, 3, 4].map(() => startHolder(t, space)));
  const ports = holders.map((holder) => holder.result.port).filter((port) => port !== undefined);
  const errors = holders.map((holder) => holder.result.error).filter((error) => error !== undefined);
  assert.deepEqual(ports.sort(), [...space.ports].sort());
  assert.deepEqual(errors, ['PoolExhaustedError', 'PoolExhaustedError']);
});

test('killing the Node process frees its port at once', async (t) => {
  const space = await workspace(t, 'web', 1);
  const holder = await startHolder(t, space);
  assert.equal(holder.result.port, space.ports[0]);
  assert.equal((await portpool.status({ lockDir: space.lockDir })).length, 1);
  holder.child.kill('SIGKILL');
  await waitUntil(async () => (await portpool.status({ lockDir: space.lockDir })).length === 0,
    'the killed process\'s port is free');
  const lease = await portpool.acquire('web', { config: space.config, lockDir: space.lockDir });
  assert.equal(lease.port, space.ports[0]);
  await lease.release();
});

test('a process that ends without releasing frees its port', async (t) => {
  const space = await workspace(t, 'web', 1);
  const holder = await startHolder(t, space);
  holder.child.stdin.end();  // holder.js releases on end of input; here it ends before that matters
  await new Promise((resolve) => holder.child.once('exit', resolve));
  await waitUntil(async () => (await portpool.status({ lockDir: space.lockDir })).length === 0, 'the port is free');
});

test('instance from-env takes the test runner\'s worker number', async (t) => {
  const space = await workspace(t, 'web', 2);
  const saved = process.env.JEST_WORKER_ID;
  process.env.JEST_WORKER_ID = '3';
  t.after(() => {
    if (saved === undefined) {
      delete process.env.JEST_WORKER_ID;
    } else {
      process.env.JEST_WORKER_ID = saved;
    }
  });
  const lease = await portpool.acquire('web', { config: space.config, lockDir: space.lockDir, instance: 'from-env' });
  assert.equal(lease.instance, 3);
  await lease.release();
  const auto = await portpool.acquire('web', { config: space.config, lockDir: space.lockDir, instance: 'auto' });
  assert.equal(auto.instance, 1);
  await auto.release();
});

test('errors are typed and say what is wrong', async (t) => {
  const space = await workspace(t, 'web', 1);
  await assert.rejects(portpool.acquire('nope', { config: space.config, lockDir: space.lockDir }), (error) => {
    assert.ok(error instanceof portpool.UsageError);
    assert.match(error.message, /unknown service 'nope'/);
    return true;
  });
  const bad = path.join(space.dir, 'bad.toml');
  fs.writeFileSync(bad, '[services.web]\nsise = 3\n');
  await assert.rejects(portpool.acquire('web', { config: bad, lockDir: space.lockDir }), portpool.ConfigError);
  const link = path.join(space.dir, 'link');
  fs.symlinkSync(space.dir, link);
  await assert.rejects(portpool.acquire('web', { config: space.config, lockDir: link }), portpool.LockDirError);
  await assert.rejects(portpool.status({ lockDir: link }), portpool.LockDirError);
});

test('table gives the pools of an instance', async (t) => {
  const space = await workspace(t, 'web', 2);
  const result = await portpool.table({ config: space.config, instance: 2 });
  assert.equal(result.instance, 2);
  assert.deepEqual(result.services.map((service) => [service.name, service.ports]), [['web', space.ports]]);
});

test('a lease, its holder and its table entry say their transport: udp as the config file says, else tcp', async (t) => {
  const space = await workspace(t, 'web', 2);
  fs.writeFileSync(space.config, `[services.web]\nports = [${space.ports[0]}]\n\n` +
                                 `[services.dns]\nports = [${space.ports[1]}]\ntransport = "udp"\n`);
  const options = { config: space.config, lockDir: space.lockDir };
  const web = await portpool.acquire('web', options);
  const dns = await portpool.acquire('dns', options);
  assert.equal(web.transport, 'tcp');
  assert.equal(dns.transport, 'udp');
  assert.equal(dns.port, space.ports[1]);
  const holders = await portpool.status({ lockDir: space.lockDir });
  assert.deepEqual(holders.map((holder) => [holder.service, holder.transport]).sort(),
                   [['dns', 'udp'], ['web', 'tcp']]);
  const table = await portpool.table({ config: space.config });
  assert.deepEqual(table.services.map((service) => [service.name, service.transport]),
                   [['web', 'tcp'], ['dns', 'udp']]);
  await dns.release();
  await web.release();
});

test('the command is found through PORTPOOL_BIN, and a wrong one is a clear error', async (t) => {
  const saved = process.env.PORTPOOL_BIN;
  t.after(() => {
    if (saved === undefined) {
      delete process.env.PORTPOOL_BIN;
    } else {
      process.env.PORTPOOL_BIN = saved;
    }
  });
  assert.equal(portpool.findCommand(), saved);
  process.env.PORTPOOL_BIN = '/nonexistent/portpool';
  assert.throws(() => portpool.findCommand(), (error) => {
    assert.ok(error instanceof portpool.SystemFailureError);
    assert.match(error.message, /PORTPOOL_BIN/);
    return true;
  });
  await assert.rejects(portpool.acquire('web'), portpool.SystemFailureError);
});
