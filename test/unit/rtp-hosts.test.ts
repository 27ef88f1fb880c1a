import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { localAddresses } from '../../src/media/rtp-hosts.js';

/** This "machine" has loopback, 10.0.0.5 and fd00::5. */
const addresses = () => ['127.0.0.1', '::1', '10.0.0.5', 'fd00::5'];
const load = (env: Record<string, string>) => loadConfig(env, { localAddresses: addresses });

function refusal(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    return err as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('RTP bind and advertised addresses (Asterisk must be able to reach the ports)', () => {
  it('`make run` defaults: both 127.0.0.1', () => {
    expect(loadConfig({}).rtp).toMatchObject({ bindHost: '127.0.0.1', advertiseHost: '127.0.0.1' });
  });

  it('a specific bind address is advertised by default', () => {
    expect(load({ RTP_BIND_HOST: '10.0.0.5' }).rtp).toMatchObject({ bindHost: '10.0.0.5', advertiseHost: '10.0.0.5' });
    expect(load({ RTP_BIND_HOST: '10.0.0.5', RTP_ADVERTISE_HOST: '10.0.0.5' }).rtp.advertiseHost).toBe('10.0.0.5');
    expect(load({ RTP_BIND_HOST: 'localhost', RTP_ADVERTISE_HOST: '127.0.0.1' }).rtp.advertiseHost).toBe('127.0.0.1');
  });

  it('bind 0.0.0.0 without RTP_ADVERTISE_HOST is refused (it used to advertise 127.0.0.1: Asterisk in a container sent the audio to itself)', () => {
    const e = refusal({ RTP_BIND_HOST: '0.0.0.0' });
    expect(e.variable).toBe('RTP_ADVERTISE_HOST');
    expect(e.message).toMatch(/required with RTP_BIND_HOST=0\.0\.0\.0.*127\.0\.0\.1 only when Asterisk shares this network namespace/);
    expect(refusal({ RTP_BIND_HOST: '::' }).variable).toBe('RTP_ADVERTISE_HOST');
  });

  it('bind 0.0.0.0 with an explicit advertised address or name is accepted, 127.0.0.1 included (host networking)', () => {
    expect(load({ RTP_BIND_HOST: '0.0.0.0', RTP_ADVERTISE_HOST: 'recorder' }).rtp).toMatchObject({ bindHost: '0.0.0.0', advertiseHost: 'recorder' });
    expect(load({ RTP_BIND_HOST: '0.0.0.0', RTP_ADVERTISE_HOST: '203.0.113.7' }).rtp.advertiseHost).toBe('203.0.113.7');
    expect(load({ RTP_BIND_HOST: '0.0.0.0', RTP_ADVERTISE_HOST: '127.0.0.1' }).rtp.advertiseHost).toBe('127.0.0.1');
    expect(load({ RTP_BIND_HOST: '::', RTP_ADVERTISE_HOST: 'fd00::5' }).rtp.advertiseHost).toBe('fd00::5');
  });

  it('an advertised address nothing can send to, or of the wrong family, is refused', () => {
    expect(refusal({ RTP_BIND_HOST: '0.0.0.0', RTP_ADVERTISE_HOST: '0.0.0.0' }).message).toMatch(/not an address Asterisk can send to/);
    expect(refusal({ RTP_BIND_HOST: '0.0.0.0', RTP_ADVERTISE_HOST: 'fd00::5' }).message).toMatch(/IPv4 only/);
  });

  it('a loopback advertised address with a non-loopback bind is refused', () => {
    const e = refusal({ RTP_BIND_HOST: '10.0.0.5', RTP_ADVERTISE_HOST: '127.0.0.1' });
    expect(e.variable).toBe('RTP_ADVERTISE_HOST');
    expect(e.message).toMatch(/127\.0\.0\.1 is loopback.*bound to 10\.0\.0\.5/);
  });

  it('a loopback bind with a non-loopback advertised address is refused', () => {
    expect(refusal({ RTP_ADVERTISE_HOST: '10.0.0.5' }).message).toMatch(/RTP_BIND_HOST=127\.0\.0\.1 receives only what is sent to 127\.0\.0\.1/);
    expect(refusal({ RTP_BIND_HOST: '127.0.0.1', RTP_ADVERTISE_HOST: 'pbx-side.example' }).variable).toBe('RTP_ADVERTISE_HOST');
  });

  it('a specific bind with another advertised address is refused (NAT: bind 0.0.0.0 instead)', () => {
    const e = refusal({ RTP_BIND_HOST: '10.0.0.5', RTP_ADVERTISE_HOST: '203.0.113.7' });
    expect(e.message).toMatch(/bound to 10\.0\.0\.5 receive only what is sent to 10\.0\.0\.5.*bind 0\.0\.0\.0/);
    expect(refusal({ RTP_BIND_HOST: '127.0.0.1', RTP_ADVERTISE_HOST: '127.0.0.2' }).variable).toBe('RTP_ADVERTISE_HOST');
  });

  it('a bind address that is not one of this machine\'s is refused, naming RTP_BIND_HOST', () => {
    const e = refusal({ RTP_BIND_HOST: '10.9.9.9' });
    expect(e.variable).toBe('RTP_BIND_HOST');
    expect(e.message).toMatch(/10\.9\.9\.9 is not an address of this machine \(it has 127\.0\.0\.1, ::1, 10\.0\.0\.5, fd00::5\)/);
  });

  it('localAddresses() lists this machine\'s loopback', () => {
    expect(localAddresses()).toContain('127.0.0.1');
  });
});
