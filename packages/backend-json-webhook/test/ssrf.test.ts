import type { LookupAddress } from 'node:dns';
import { connect } from 'node:net';
import { PermanentError } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { isBlockedAddress, jsonWebhook } from '../src';
import { guardedLookup } from '../src/ssrf';
import { loopback } from '@herald/core/testing';
import { hookMessage, SECRET, sendContext } from './_fixtures';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A resolver answering from a script, counting calls: lets a test play DNS rebinding. */
function scripted(answers: string[]) {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const address = answers[Math.min(calls.length - 1, answers.length - 1)]!;
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  return { resolve, calls };
}

async function receiver() {
  const server = await loopback(() => ({ status: 204 }));
  closers.push(server.close);
  return server;
}

function backendWith(options: Partial<Parameters<typeof jsonWebhook>[0]>) {
  const backend = jsonWebhook({ secret: SECRET, ...options } as Parameters<typeof jsonWebhook>[0]);
  closers.push(() => backend.close!());
  return backend;
}

describe('SSRF guard', () => {
  it('classifies addresses', () => {
    for (const ip of ['127.0.0.1', '10.0.0.8', '172.16.5.4', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::7f00:1']) {
      expect(isBlockedAddress(ip), ip).toBe(true);
    }
    for (const ip of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(isBlockedAddress(ip), ip).toBe(false);
    }
  });

  it('refuses a host name resolving to 127.0.0.1 by default, naming the host', async () => {
    const server = await receiver();
    const dns = scripted(['127.0.0.1']);
    const backend = backendWith({ resolve: dns.resolve });
    const err = await backend.send(hookMessage(`http://hooks.customer.test:${server.port}/x`), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).rejectReason).toBe('blocked');
    expect((err as Error).message).toMatch(`refused webhook host hooks.customer.test:${server.port}`);
    expect((err as Error).message).toMatch('127.0.0.1');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses localhost through the system resolver', async () => {
    const server = await receiver();
    const err = await backendWith({}).send(hookMessage(`http://localhost:${server.port}/x`), sendContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses IP literals without any lookup (metadata, loopback, IPv6, numeric forms)', async () => {
    const server = await receiver();
    const dns = scripted(['203.0.113.9']);
    const backend = backendWith({ resolve: dns.resolve });
    for (const url of [
      `http://127.0.0.1:${server.port}/`,
      `http://0x7f000001:${server.port}/`,
      `http://[::1]:${server.port}/`,
      `http://[::ffff:127.0.0.1]:${server.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
    ]) {
      const err = await backend.send(hookMessage(url), sendContext()).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(PermanentError);
      expect((err as Error).message, url).toMatch(/refused webhook host/);
    }
    expect(dns.calls).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });

  it('allows the host with allowedHosts or allowPrivateNetworks', async () => {
    const server = await receiver();
    const dns = scripted(['127.0.0.1']);
    await backendWith({ resolve: dns.resolve, allowedHosts: ['hooks.internal.test'] }).send(hookMessage(`http://hooks.internal.test:${server.port}/a`), sendContext());
    await backendWith({ allowPrivateNetworks: true }).send(hookMessage(`http://127.0.0.1:${server.port}/b`), sendContext());
    await backendWith({ allowedHosts: ['127.0.0.1'] }).send(hookMessage(`http://127.0.0.1:${server.port}/c`), sendContext());
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b', '/c']);
  });

  it('pins: the check and the connection share one resolution, so rebinding cannot slip in', async () => {
    const server = await receiver();
    // A rebinding resolver: a blocked answer first, then (too late) a different one. Exactly one lookup per
    // attempt means no separate "check" resolution exists that a second answer could race.
    const dns = scripted(['127.0.0.1', '203.0.113.10']);
    const backend = backendWith({ resolve: dns.resolve });
    await expect(backend.send(hookMessage(`http://rebind.test:${server.port}/`), sendContext())).rejects.toBeInstanceOf(PermanentError);
    expect(dns.calls).toEqual(['rebind.test']);
    expect(server.requests).toHaveLength(0);
  });

  it('pins: the socket connects to exactly the address the guard checked', async () => {
    const server = await receiver();
    // First answer 127.0.0.1 (a listener), later answers 127.0.0.3 (nothing listens there).
    const dns = scripted(['127.0.0.1', '127.0.0.3']);
    const lookup = guardedLookup(dns.resolve, () => true);
    const remote = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: 'pinned.test', port: server.port, lookup }, () => {
        resolve(socket.remoteAddress ?? '');
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(remote).toBe('127.0.0.1');
    expect(dns.calls).toEqual(['pinned.test']);
    const refused = guardedLookup(scripted(['10.1.2.3']).resolve, () => false);
    const error = await new Promise<Error>((resolve) => {
      connect({ host: 'evil.test', port: server.port, lookup: refused }).on('error', resolve);
    });
    expect(error.name).toBe('BlockedAddressError');
  });

  it('refuses when any resolved address is blocked', async () => {
    const server = await receiver();
    const resolve = async (): Promise<LookupAddress[]> => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    await expect(backendWith({ resolve }).send(hookMessage(`http://mixed.test:${server.port}/`), sendContext())).rejects.toThrow(/127\.0\.0\.1/);
  });
});
