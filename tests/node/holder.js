'use strict';
// A Node process that takes a lease and holds it until its standard input ends:
//   node holder.js SERVICE CONFIG LOCK_DIR
// prints {"port": N} or {"error": NAME, "holders": [...]} as one line.

const { packageDirectory } = require('./support');

const portpool = require(packageDirectory);

async function main() {
  const [service, config, lockDir] = process.argv.slice(2);
  try {
    const lease = await portpool.acquire(service, { config, lockDir });
    process.stdout.write(`${JSON.stringify({ port: lease.port, leasePid: lease.pid })}\n`);
    process.stdin.resume();
    process.stdin.on('end', () => lease.release());
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: error.name, holders: error.holders || [] })}\n`);
  }
}

main();
