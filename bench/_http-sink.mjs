// HTTP receiver for benchmarks, run in a worker thread so its CPU does not share the sender's event loop.
// Reads and discards each body, answers 204, and reports the request count when asked.
import { createServer } from 'node:http';
import { parentPort } from 'node:worker_threads';

let received = 0;
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    received++;
    res.writeHead(204);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'ready', port: server.address().port }));
parentPort.on('message', (msg) => {
  if (msg === 'count') parentPort.postMessage({ type: 'count', received });
  if (msg === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage({ type: 'closed' }));
  }
});
