// The package as an ES module user imports it: the default export and the named ones.
import portpool, { acquire, PoolExhaustedError } from 'portpool';
import assert from 'node:assert/strict';

const options = { config: process.env.CONFIG, lockDir: process.env.LOCK_DIR };
const lease = await acquire('web', options);
assert.equal(lease.port, Number(process.env.PORT));
await assert.rejects(portpool.acquire('web', options), PoolExhaustedError);
await lease.release();
console.log('module ok');
