import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Can Asterisk's RTP, sent to the advertised host, reach our ports bound to the bind host? Checked once, at start-up
 * (config.ts), because the failure otherwise is silent: recordings of silence. Examples:
 * - bind 0.0.0.0 (every interface) with no advertised host: the old default advertised 127.0.0.1, which under
 *   bridge networking (a container) makes Asterisk send our audio to itself. Binding everywhere means Asterisk is
 *   elsewhere, so the address it must use is required, not guessed;
 * - bind a specific address: only datagrams sent to that very address arrive, so it is the one to advertise
 *   (behind NAT or port publishing, bind 0.0.0.0 and advertise the outside address).
 */
export interface RtpHostProblem {
  variable: 'RTP_BIND_HOST' | 'RTP_ADVERTISE_HOST';
  message: string;
}

const ANY = new Set(['0.0.0.0', '::']);

export function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** The IP addresses of this machine's interfaces (loopback included). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address.replace(/%.*$/, ''));
}

const same = (a: string, b: string) => a === b || (a === 'localhost' && (b === '127.0.0.1' || b === '::1')) || (b === 'localhost' && (a === '127.0.0.1' || a === '::1'));

/**
 * `advertise` undefined: RTP_ADVERTISE_HOST is unset. Returns the advertised host to use, or the problem.
 * `addresses` is consulted only for a specific non-loopback IP bind address.
 */
export function checkRtpHosts(bind: string, advertise: string | undefined, addresses: () => string[] = localAddresses): { advertise: string } | RtpHostProblem {
  if (ANY.has(bind)) {
    if (advertise === undefined) {
      return {
        variable: 'RTP_ADVERTISE_HOST',
        message:
          `required with RTP_BIND_HOST=${bind}: the address Asterisk sends RTP to, i.e. this host's or container's address (or name) ` +
          `as Asterisk reaches it; 127.0.0.1 only when Asterisk shares this network namespace (same host, docker --network host)`,
      };
    }
    if (ANY.has(advertise)) return { variable: 'RTP_ADVERTISE_HOST', message: `"${advertise}" is not an address Asterisk can send to: give this host's address as Asterisk reaches it` };
    if (bind === '0.0.0.0' && isIPv6(advertise)) {
      return { variable: 'RTP_ADVERTISE_HOST', message: `${advertise} is IPv6 but RTP_BIND_HOST=0.0.0.0 listens on IPv4 only: bind :: or advertise an IPv4 address` };
    }
    return { advertise };
  }

  if (isIP(bind) && !isLoopbackHost(bind)) {
    const mine = addresses();
    if (!mine.includes(bind)) {
      return { variable: 'RTP_BIND_HOST', message: `${bind} is not an address of this machine (it has ${mine.join(', ') || 'none'}): bind one of them, or 0.0.0.0 with RTP_ADVERTISE_HOST` };
    }
  }
  if (advertise === undefined || same(advertise, bind)) return { advertise: advertise ?? bind };

  const fix = `advertise ${bind} (the default), or bind 0.0.0.0 and set RTP_ADVERTISE_HOST to the address Asterisk reaches (NAT, port publishing)`;
  if (isLoopbackHost(advertise) && !isLoopbackHost(bind)) {
    return { variable: 'RTP_ADVERTISE_HOST', message: `${advertise} is loopback: Asterisk would send RTP to its own host, never to our ports bound to ${bind}; ${fix}` };
  }
  if (isLoopbackHost(bind) && !isLoopbackHost(advertise)) {
    return { variable: 'RTP_ADVERTISE_HOST', message: `RTP_BIND_HOST=${bind} receives only what is sent to ${bind} on this machine, but Asterisk would send to ${advertise}; bind ${advertise}, or 0.0.0.0 with RTP_ADVERTISE_HOST=${advertise}` };
  }
  return { variable: 'RTP_ADVERTISE_HOST', message: `ports bound to ${bind} receive only what is sent to ${bind}, but Asterisk would send to ${advertise}; ${fix}` };
}
