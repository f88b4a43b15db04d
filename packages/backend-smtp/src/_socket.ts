import { connect, type Socket } from 'node:net';

type SocketCallback = (error: Error | null, socket?: { connection: Socket }) => void;

/**
 * nodemailer's `getSocket` hook opening the TCP connection with Nagle's algorithm off. nodemailer leaves it on, and
 * its small command writes then wait for the server's delayed ACK (~40 ms on Linux) on every message: with it off a
 * pooled connection sends 3–4× more messages per second. TLS (implicit or STARTTLS) is still negotiated by nodemailer.
 *
 * The socket is handed over while it is still connecting, and a failed connect surfaces as the socket's `error`
 * event, never through the callback: nodemailer's pool drops a resource only on its connection's `error` or `close`,
 * and a resource whose `getSocket` called back with an error stays in the pool, busy, forever. After
 * `maxConnections` refused connections no message was ever sent again, not even once the server was back.
 */
export function noDelaySocket(host: string, port: number, timeoutMs: number) {
  return function getSocket(_options: unknown, callback: SocketCallback): void {
    const socket = connect({ host, port, noDelay: true, keepAlive: true });
    // nodemailer's own connection timeout ends when it is handed a socket: bound the TCP connect here.
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`Connection timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    const settle = () => clearTimeout(timer);
    socket.once('connect', settle);
    socket.once('close', settle);
    callback(null, { connection: socket });
  };
}
