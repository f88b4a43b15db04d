// SMTP sink for benchmarks, run in a worker thread so its CPU does not share the sender's event loop.
// Accepts everything, discards the bodies, and reports the message count when asked.
import { parentPort } from 'node:worker_threads';
import { SMTPServer } from 'smtp-server';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  closeTimeout: 200,
  logger: false,
  size: 0,
  maxClients: 256,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      received++;
      callback();
    });
  },
});
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'ready', port: server.server.address().port }));
parentPort.on('message', (msg) => {
  if (msg === 'count') parentPort.postMessage({ type: 'count', received });
  if (msg === 'close') server.close(() => parentPort.postMessage({ type: 'closed' }));
});
