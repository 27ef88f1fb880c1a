import { isIP } from 'node:net';

export interface RtpSource {
  address: string;
  port: number;
}

/** An announced RTP source (Asterisk's UNICASTRTP_LOCAL_ADDRESS / _PORT), checked: an IP and a port 1–65535. */
export function parseRtpSource(address: unknown, port: unknown): RtpSource | null {
  if (typeof address !== 'string' || isIP(address) === 0) return null;
  const p = typeof port === 'string' && /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(p >= 1 && p <= 65535)) return null;
  return { address, port: p };
}
