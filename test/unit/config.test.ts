import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives the embedded defaults on an empty environment', () => {
    const c = loadConfig({});
    expect(c.ari.url).toBe('http://127.0.0.1:8088');
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.storage).toMatchObject({ backend: 'local', localDir: './var/recordings' });
    expect(c.spoolDir).toBe('./var/spool');
    expect(c.redis.target).toBeUndefined();
    expect(c.recording.maxDurationSec).toBe(86400);
    expect(c.retention.defaultDays).toBe(30);
    expect(c.rtp.portMin).toBeLessThan(c.rtp.portMax);
  });

  it.each([
    ['HTTP_PORT', 'eighty', /HTTP_PORT: expected an integer/],
    ['HTTP_PORT', '70000', /HTTP_PORT: must be between/],
    ['ARI_URL', 'not a url', /ARI_URL: not a valid URL/],
    ['ARI_URL', 'ftp://x', /ARI_URL: protocol/],
    ['STORAGE_BACKEND', 's3', /STORAGE_BACKEND: must be one of local, gcs/],
    ['REDIS_URL', 'http://x', /REDIS_URL: protocol/],
    ['RETENTION_DAYS_PER_CUSTOMER', 'a=b', /RETENTION_DAYS_PER_CUSTOMER/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['DEFAULT_CUSTOMER_ID', '..', /DEFAULT_CUSTOMER_ID: "\.\." is not a customer id/],
    ['DEFAULT_CUSTOMER_ID', 'a/b', /DEFAULT_CUSTOMER_ID/],
    ['RETENTION_DAYS_PER_CUSTOMER', 'a:b=7', /RETENTION_DAYS_PER_CUSTOMER: "a:b" is not a customer id/],
  ])('rejects %s=%s with a message naming the variable', (name, value, re) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  });

  it('an empty variable counts as unset: its default', () => {
    const c = loadConfig({ DEFAULT_CUSTOMER_ID: '', HTTP_PORT: '', ARI_URL: '', REDIS_URL: '', TOKENS_FILE: '', RETENTION_DAYS_PER_CUSTOMER: '', GCS_PROJECT_ID: '' });
    expect(c.recording.defaultCustomerId).toBe('default');
    expect(c.http.port).toBe(8080);
    expect(c.ari.url).toBe('http://127.0.0.1:8088');
    expect(c.redis.target).toBeUndefined();
    expect(c.http.tokensFile).toBeUndefined();
    expect(c.retention.perCustomer).toEqual({});
    expect(c.storage.gcs.projectId).toBeUndefined();
  });

  it('Redis: one server, a Cluster (seed nodes) or a Sentinel-managed master — one of them, checked', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.5:6379' }).redis.target).toEqual({ kind: 'url', url: 'redis://10.0.0.5:6379' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[fd00::1]:7002', REDIS_PASSWORD: 's3cret' }).redis.target).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: 'fd00::1', port: 7002 },
      ],
      password: 's3cret',
      username: undefined,
      tls: false,
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'rec', REDIS_TLS: 'true' }).redis.target).toMatchObject({
      kind: 'sentinel',
      name: 'rec',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      tls: true,
    });
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/REDIS_CLUSTER_NODES: set only one of REDIS_URL, REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINEL_MASTER/);
    for (const bad of ['a', 'a:0', 'a:70000', 'a:1,', 'a b:1', 'fd00::1:7000']) expect(() => loadConfig({ REDIS_CLUSTER_NODES: bad }), bad).toThrow(/REDIS_CLUSTER_NODES: expected host:port/);
    expect(() => loadConfig({ REDIS_TLS: 'yes' })).toThrow(/REDIS_TLS/);
  });

  it('admission control: a utilization percentage (0: off) and a tick lag', () => {
    expect(loadConfig({}).mixer.admission).toEqual({ maxUtilization: 0.65 });
    expect(loadConfig({ ADMISSION_MAX_UTILIZATION: '65.5', ADMISSION_MAX_LAG_MS: '45' }).mixer.admission).toEqual({ maxUtilization: 0.655, maxLagMs: 45 });
    expect(loadConfig({ ADMISSION_MAX_UTILIZATION: '0' }).mixer.admission).toBe(false);
    for (const bad of ['101', '-1', 'high', '1e2']) expect(() => loadConfig({ ADMISSION_MAX_UTILIZATION: bad }), bad).toThrow(/ADMISSION_MAX_UTILIZATION: expected a percentage/);
  });

  it('checks the RTP range and GCS bucket together', () => {
    expect(() => loadConfig({ RTP_PORT_MIN: '30000', RTP_PORT_MAX: '20000' })).toThrow(/RTP_PORT_MAX/);
    expect(() => loadConfig({ STORAGE_BACKEND: 'gcs' })).toThrow(/GCS_BUCKET/);
    expect(loadConfig({ STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b' }).storage.gcs.bucket).toBe('b');
  });

  it('parses per-customer retention and webhook URLs', () => {
    const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const c = loadConfig({ RETENTION_DAYS_PER_CUSTOMER: 'a=7, b=90', WEBHOOK_URLS: 'http://x/1, https://y/2', WEBHOOK_SECRET: secret });
    expect(c.retention.perCustomer).toEqual({ a: 7, b: 90 });
    expect(c.webhooks.urls).toEqual(['http://x/1', 'https://y/2']);
    expect(() => loadConfig({ WEBHOOK_URLS: 'nope', WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_URLS/);
    expect(() => loadConfig({ WEBHOOK_URLS: 'https://a/1, https://u:s3cret@b/2', WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_URLS: entry 2 https:\/\/b\/2 must not hold a user/);
  });

  it('WEBHOOK_URLS needs a Standard Webhooks secret: a guessable (empty, short, not base64) key is a start-up error', () => {
    for (const bad of [undefined, '', 's', 'whsec-test', `whsec_${Buffer.alloc(16).toString('base64')}`, 'whsec_not base64!']) {
      expect(() => loadConfig({ WEBHOOK_URLS: 'http://x/1', ...(bad === undefined ? {} : { WEBHOOK_SECRET: bad }) }), String(bad)).toThrow(/WEBHOOK_SECRET: required with WEBHOOK_URLS/);
    }
    expect(loadConfig({ WEBHOOK_SECRET: '' }).webhooks.urls).toEqual([]); // no URLs, no secret needed
  });

  it('TRUST_PROXY: addresses, CIDRs and proxy-addr names; trusting every hop or a malformed entry is a start-up error', () => {
    expect(loadConfig({}).http.trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, 192.168.1.10 ,fd00::/8, loopback' }).http.trustProxy).toEqual(['10.0.0.0/8', '192.168.1.10', 'fd00::/8', 'loopback']);
    for (const bad of ['true', '*', '10.0.0.0/33', '::/129', 'lb.example', '10.0.0.1/8/1', '10.0.0.0/', '1']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });

  it('an http(s) URL with user:password is a start-up error naming the variable, never echoing the password', () => {
    for (const [name, value] of [['ARI_URL', 'http://asterisk:s3cret@127.0.0.1:8088'], ['GCS_API_ENDPOINT', 'https://u:s3cret@gcs.example']] as const) {
      const err = (() => {
        try {
          loadConfig({ [name]: value, STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'b' });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err?.message, name).toMatch(new RegExp(`${name}: must not hold a user or password`));
      expect(err?.message, name).not.toContain('s3cret');
    }
    expect(loadConfig({ REDIS_URL: 'redis://:pw@127.0.0.1:6379' }).redis.target).toBeDefined(); // Redis URLs carry their password
  });

  it('a node is lost only after three missed heartbeats; a per-customer retention is 0 (never) or 1–36500 days', () => {
    expect(loadConfig({ NODE_HEARTBEAT_SEC: '10', NODE_LOST_AFTER_SEC: '30' }).node).toMatchObject({ heartbeatSec: 10, lostAfterSec: 30 });
    expect(() => loadConfig({ NODE_LOST_AFTER_SEC: '20' })).toThrow(/NODE_LOST_AFTER_SEC: must be at least 3 × NODE_HEARTBEAT_SEC \(30\), got 20/);
    expect(loadConfig({ RETENTION_DAYS_PER_CUSTOMER: 'a=0,b=36500' }).retention.perCustomer).toEqual({ a: 0, b: 36500 });
    expect(() => loadConfig({ RETENTION_DAYS_PER_CUSTOMER: 'a=99999999' })).toThrow(/RETENTION_DAYS_PER_CUSTOMER: a: days must be 0/);
  });
});
