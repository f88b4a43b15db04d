// HTTP receiver for the PostgreSQL benchmarks, in a worker thread. Answers 204 at once, counts requests per
// `webhook-id` (the delivery id) so duplicates can be reported, and stamps each arrival with a clock shared
// across threads (performance.timeOrigin + performance.now()) for latency measurements.
import { createServer } from 'node:http';
import { parentPort } from 'node:worker_threads';

const seen = new Set();
let received = 0;
let duplicates = 0;
const arrivals = new Map();
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const at = performance.timeOrigin + performance.now();
  const id = String(req.headers['webhook-id'] ?? '');
  req.on('data', () => {});
  req.on('end', () => {
    received++;
    if (seen.has(id)) duplicates++;
    else seen.add(id);
    if (arrivals.size < 100_000) arrivals.set(id, at);
    res.writeHead(204);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'ready', port: server.address().port }));
parentPort.on('message', (msg) => {
  if (msg === 'count') parentPort.postMessage({ type: 'count', received, duplicates });
  if (msg === 'arrivals') parentPort.postMessage({ type: 'arrivals', arrivals: [...arrivals] });
  if (msg === 'reset') {
    seen.clear();
    arrivals.clear();
    received = 0;
    duplicates = 0;
    parentPort.postMessage({ type: 'reset' });
  }
  if (msg === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage({ type: 'closed' }));
  }
});
