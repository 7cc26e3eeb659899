// The npm peers doing portpool's job: get-port and portfinder.
//
//   node peer.mjs time TOOL FIRST LAST ITERATIONS   one JSON line: time per acquisition in this process
//   node peer.mjs race TOOL FIRST LAST              the race protocol of race.py
//
// PEER_MODULES names the folder whose node_modules holds the tools (npm ci --prefix, from package-lock.json).

import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { readSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.PEER_MODULES;
const require = createRequire(join(modules, 'package.json'));

async function acquirer(tool, first, last) {
  if (tool === 'get-port') {
    const getPort = await import(pathToFileURL(require.resolve('get-port')));
    return () => getPort.default({ port: getPort.portNumbers(first, last) });
  }
  if (tool === 'portfinder') {
    const portfinder = require('portfinder');
    return () => portfinder.getPortPromise({ port: first, stopPort: last });
  }
  throw new Error(`unknown tool ${tool}`);
}

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.round(fraction * (sorted.length - 1)))];
}

async function time(tool, first, last, iterations) {
  const acquire = await acquirer(tool, first, last);
  await acquire();  // warm-up: module loading, first lookups
  const micros = [];
  let outside = 0;
  for (let index = 0; index < iterations; ++index) {
    const started = process.hrtime.bigint();
    const port = await acquire();
    micros.push(Number(process.hrtime.bigint() - started) / 1e3);
    if (port < first || port > last) ++outside;
  }
  const sorted = [...micros].sort((a, b) => a - b);
  const mean = micros.reduce((sum, value) => sum + value, 0) / micros.length;
  console.log(JSON.stringify({
    tool, iterations, mean_us: mean, p50_us: percentile(sorted, 0.5), p99_us: percentile(sorted, 0.99),
    outside_range: outside, range_first: first, range_last: last,
  }));
}

function waitForEndOfInput() {
  const buffer = Buffer.alloc(64);
  for (;;) {
    try {
      if (readSync(0, buffer, 0, buffer.length, null) === 0) return;
    } catch (error) {
      if (error.code !== 'EAGAIN' && error.code !== 'EINTR') throw error;
    }
  }
}

function listen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve('failed'));
    server.listen(port, '127.0.0.1', () => resolve('ok'));
  });
}

async function race(tool, first, last) {
  const acquire = await acquirer(tool, first, last);
  process.stdout.write('ready\n');
  waitForEndOfInput();
  const woke = process.hrtime.bigint();
  let port = 0;
  let listened = 'none';
  try {
    port = await acquire();
    listened = await listen(port);
  } catch {
    port = 0;
  }
  const done = process.hrtime.bigint();
  process.stdout.write(`${port} ${Number(done - woke) / 1e3} ${done} ${listened}\n`);
  setTimeout(() => process.exit(0), 120000);  // held until race.py ends it
}

const [mode, tool, first, last, iterations] = process.argv.slice(2);
if (mode === 'time') {
  await time(tool, Number(first), Number(last), Number(iterations));
} else {
  await race(tool, Number(first), Number(last));
}
