// The README's forms, type-checked with tsc --strict as CommonJS without esModuleInterop.
import portpool from 'portpool';
import { acquire, Holder, PoolExhaustedError } from 'portpool';

declare function report(...values: unknown[]): void;

async function main(): Promise<void> {
  const lease = await portpool.acquire('mcp-universal', { instance: 'auto', config: './ports.toml', wait: 30000 });
  const port: number = lease.port;
  const holders: Holder[] = await portpool.status();
  const tags: string[] = holders.length > 0 ? holders[0].tags : [];
  try {
    await acquire('api-server', { instance: 'from-env=SLOT+1' });
  } catch (error) {
    if (error instanceof PoolExhaustedError) {
      const reasons: string[] = error.refusals.map((refusal) => refusal.reason);
      report(reasons);
    }
  }
  report(port, tags);
  await lease.release();
}

void main();
