import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Resolves a host name to every address it has. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const defaultResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

const _blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", incl. 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  _blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64], // discard
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local, incl. fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
] as const) {
  _blocked.addSubnet(net, prefix, 'ipv6');
}

/** Expand an IPv6 address into eight 16-bit groups (null if it does not parse). */
function _groups(ip: string): number[] | null {
  let text = ip.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(Math.max(fill, 0)).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** The IPv4 address embedded in an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address. */
function _embeddedV4(g: number[]): string | null {
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return null;
}

/**
 * True for addresses a webhook must not reach: loopback, private (RFC 1918, ULA), link-local (incl. cloud
 * metadata), CGNAT, unspecified, multicast, documentation ranges — also when wrapped in an IPv6 form.
 *
 * @example
 * ```ts
 * isBlockedAddress('169.254.169.254'); // true
 * isBlockedAddress('::ffff:10.0.0.1'); // true
 * isBlockedAddress('93.184.216.34'); // false
 * ```
 */
export function isBlockedAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return _blocked.check(ip, 'ipv4');
  if (family !== 6) return true;
  const groups = _groups(ip);
  if (!groups) return true;
  const embedded = _embeddedV4(groups);
  if (embedded) return _blocked.check(embedded, 'ipv4');
  return _blocked.check(ip.split('%')[0]!, 'ipv6');
}

/** Thrown from inside the connection's DNS lookup when the host resolves to a blocked address. */
export class BlockedAddressError extends Error {
  readonly code = 'HERALD_BLOCKED_ADDRESS';
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to ${address}, a loopback, private, link-local or reserved address`);
    this.name = 'BlockedAddressError';
  }
}

/**
 * A `net.connect` lookup that resolves once, refuses blocked addresses and hands exactly the checked addresses
 * to the socket: the address connected to is the one that was checked, so DNS rebinding cannot slip past.
 */
export function guardedLookup(resolve: Resolver, isAllowedHost: (hostname: string) => boolean): LookupFunction {
  return function lookup(hostname, options, callback) {
    resolve(hostname).then(
      (all) => {
        const addresses = options.family ? all.filter((a) => a.family === options.family) : all;
        if (!isAllowedHost(hostname)) {
          const bad = all.find((a) => isBlockedAddress(a.address));
          if (bad) return callback(new BlockedAddressError(hostname, bad.address), '');
        }
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
