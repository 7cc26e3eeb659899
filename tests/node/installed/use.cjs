// The package as a CommonJS user requires it, from the project it was installed into.
const portpool = require('portpool');
const assert = require('node:assert/strict');

(async () => {
  assert.equal(require.resolve('portpool').startsWith(process.cwd()), true);
  const lease = await portpool.acquire('web', { config: process.env.CONFIG, lockDir: process.env.LOCK_DIR });
  assert.equal(lease.port, Number(process.env.PORT));
  await lease.release();
  assert.equal(portpool.default, portpool);
  console.log('commonjs ok');
})();
