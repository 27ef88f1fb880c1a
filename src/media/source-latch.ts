/**
 * Source latching: the first valid RTP packet of a stream fixes the accepted source address:port.
 * Packets from any other source are dropped and counted, so spoofed or stray audio never reaches a file.
 *
 * Asterisk never changes its send address for an externalMedia channel (see shared/asterisk/README.md),
 * so there is no re-latch: a stream has exactly one legitimate source for its whole life.
 * The latch is only set by a packet that already passed RTP validation (the caller checks first), so a
 * garbage datagram cannot capture the stream.
 */
export class SourceLatch {
  private address: string | null = null;
  private port = 0;
  /** Packets refused because they came from another source. */
  spoofed = 0;

  get latched(): boolean {
    return this.address !== null;
  }

  get source(): { address: string; port: number } | null {
    return this.address === null ? null : { address: this.address, port: this.port };
  }

  /** Returns true when the packet's source is the stream's source (latching it on first use). */
  accept(address: string, port: number): boolean {
    if (this.address === null) {
      this.address = address;
      this.port = port;
      return true;
    }
    if (port === this.port && address === this.address) return true;
    this.spoofed++;
    return false;
  }
}
