'use strict';
// Test helpers: the package under test, a temporary lock directory and config per test, ports
// chosen at run time.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

/**
 * Where the package under test is: the copy installed from `npm pack` into a fresh project when
 * PORTPOOL_NODE_PACKAGE names it (installed_package.sh), else the source folder.
 */
const sourceDirectory = path.join(__dirname, '..', '..', 'bindings', 'node');
const packageDirectory = process.env.PORTPOOL_NODE_PACKAGE || sourceDirectory;

/** A port the kernel picks (bind port 0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function distinctFreePorts(count) {
  const ports = new Set();
  while (ports.size < count) {
    ports.add(await freePort());
  }
  return [...ports];
}

/** A temporary directory with a lock directory and a config of one shared pool `service`. */
async function workspace(t, service, portCount) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portpool-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ports = await distinctFreePorts(portCount);
  const config = path.join(dir, 'ports.toml');
  fs.writeFileSync(config, `[services.${service}]\nports = [${ports.join(', ')}]\n`);
  return { dir, ports, config, lockDir: path.join(dir, 'locks') };
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function waitUntil(condition, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

module.exports = { sourceDirectory, packageDirectory, freePort, workspace, waitUntil };
