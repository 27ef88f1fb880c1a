/**
 * channelvars as Asterisk 22.10.1 sends them (../shared/asterisk/README.md, second capture): with
 * `channelvars = CUSTOMER_ID` in ari.conf every channel snapshot carries the name, "" when unset; the externalMedia
 * answer carries the channel's own variables (UNICASTRTP_LOCAL_ADDRESS/PORT, where its RTP comes from).
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimSession, stopSimSession } from '../sim/harness.js';
import type { ChannelJson } from '../sim/types.js';

describe('simulator: channelvars', () => {
  let s: Awaited<ReturnType<typeof startSimSession>>;
  beforeAll(async () => {
    s = await startSimSession({});
  });
  afterAll(async () => {
    await stopSimSession(s ?? {});
  });

  it('an untagged call carries CUSTOMER_ID "" in the originate answer, StasisStart and GET', async () => {
    const r = await s.ari.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/tone440@test', app: s.sim.app });
    expect(r.status).toBe(200);
    expect(r.body.channelvars).toEqual({ CUSTOMER_ID: '' });
    const start = await s.events.waitFor((e) => e.type === 'StasisStart' && (e.channel as ChannelJson).id === r.body.id);
    expect((start.channel as ChannelJson).channelvars).toEqual({ CUSTOMER_ID: '' });
    expect((await s.ari.request<ChannelJson>('GET', `/channels/${r.body.id}`)).body.channelvars).toEqual({ CUSTOMER_ID: '' });
  });

  it('a tagged call carries its value; other variables are not listed', async () => {
    const r = await s.ari.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/tone440@test', app: s.sim.app }, { variables: { CUSTOMER_ID: 'cust-7', OTHER: 'x' } });
    expect(r.body.channelvars).toEqual({ CUSTOMER_ID: 'cust-7' });
  });

  it('externalMedia: the answer names the address and port its RTP comes from; its snapshots list only CUSTOMER_ID', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const first = new Promise<dgram.RemoteInfo>((res) => sock.once('message', (_m, rinfo) => res(rinfo)));
    const port = sock.address().port;
    const em = await s.ari.request<ChannelJson>('POST', '/channels/externalMedia', { app: s.sim.app, external_host: `127.0.0.1:${port}`, format: 'slin16' });
    expect(em.status).toBe(200);
    const vars = em.body.channelvars!;
    expect(vars.UNICASTRTP_LOCAL_ADDRESS).toBe('127.0.0.1');
    expect(Number(vars.UNICASTRTP_LOCAL_PORT)).toBeGreaterThan(0);
    expect(vars.CUSTOMER_ID).toBeUndefined();
    const call = await s.ari.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/tone440@test', app: s.sim.app });
    await s.events.waitFor((e) => e.type === 'StasisStart' && (e.channel as ChannelJson).id === call.body.id);
    const snoop = await s.ari.request<ChannelJson>('POST', `/channels/${call.body.id}/snoop`, { spy: 'in', app: s.sim.app });
    const br = await s.ari.request<{ id: string }>('POST', '/bridges', { type: 'mixing' });
    await s.events.waitFor((e) => e.type === 'StasisStart' && (e.channel as ChannelJson).id === snoop.body.id);
    expect((await s.ari.request('POST', `/bridges/${br.body.id}/addChannel`, { channel: `${snoop.body.id},${em.body.id}` })).status).toBe(204);
    const rinfo = await first;
    expect({ address: rinfo.address, port: rinfo.port }).toEqual({ address: vars.UNICASTRTP_LOCAL_ADDRESS, port: Number(vars.UNICASTRTP_LOCAL_PORT) });
    expect((await s.ari.request<ChannelJson>('GET', `/channels/${em.body.id}`)).body.channelvars).toEqual({ CUSTOMER_ID: '' });
    sock.close();
  });
});
