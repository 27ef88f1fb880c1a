/**
 * Which source a stream accepts RTP from.
 *
 * Asterisk announces it before the first packet: the externalMedia answer carries
 * `channelvars.UNICASTRTP_LOCAL_ADDRESS` / `UNICASTRTP_LOCAL_PORT`, and its RTP comes from exactly there, for the
 * channel's whole life (../shared/asterisk/README.md). A stream opened with `awaitSource` accepts nothing until
 * `expect()` names that source, then only that source: a packet sent by anyone else — before or after — is counted
 * as foreign and never reaches a file (our ports are guessable; the first packet must not decide).
 *
 * Without `awaitSource` (tools that do not know the sender, e.g. the load generator) the first valid packet's
 * source is latched instead. An announced wildcard address (0.0.0.0, ::) pins the port only.
 */
export class SourceLatch {
  private address: string | null = null;
  private port = 0;
  private anyAddress = false;
  private awaiting: boolean;
  /** Packets refused because they came from another source (or before the source was known). */
  foreign = 0;

  constructor(opts: { awaitSource?: boolean } = {}) {
    this.awaiting = opts.awaitSource ?? false;
  }

  get latched(): boolean {
    return this.address !== null;
  }

  get source(): { address: string; port: number } | null {
    return this.address === null ? null : { address: this.address, port: this.port };
  }

  /** The source Asterisk announced: from now on, only it is accepted. */
  expect(address: string, port: number): void {
    this.address = normalize(address);
    this.anyAddress = this.address === '0.0.0.0' || this.address === '::';
    this.port = port;
    this.awaiting = false;
  }

  /** Returns true when the packet's source is the stream's source (latching it on first use when not announced). */
  accept(address: string, port: number): boolean {
    if (this.address === null && !this.awaiting) {
      this.address = normalize(address);
      this.port = port;
      return true;
    }
    if (this.address !== null && port === this.port && (this.anyAddress || normalize(address) === this.address)) return true;
    this.foreign++;
    return false;
  }
}

/** `::ffff:127.0.0.1` (a dual-stack socket's view of an IPv4 peer) is `127.0.0.1`. */
export function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
