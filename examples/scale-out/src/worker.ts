/** One worker process: `tsx src/worker.ts <schema>`. Runs until SIGTERM, then stops gracefully. */
import { makeHerald } from './herald';

const herald = makeHerald(process.argv[2]!);
const worker = herald.worker({ concurrency: 8 });
process.send?.('ready');
process.on('SIGTERM', async () => {
  await worker.stop(); // finishes sends in flight, gives claimed-but-unsent deliveries back
  await herald.close();
  process.exit(0);
});
