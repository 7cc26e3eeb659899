// The README's forms, type-checked with tsc --strict as an ES module (module nodenext).
import portpool from 'portpool';
import { status, type Lease, type Table } from 'portpool';

declare function report(...values: unknown[]): void;

const lease: Lease = await portpool.acquire('mcp-universal', { instance: 'from-env', wait: 1000 });
const table: Table = await portpool.table({ instance: 2 });
const readiness = (await status())[0]?.readiness;
report(lease.port, table.source, readiness);
await lease.release();
