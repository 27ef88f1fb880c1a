// A receiver for ari-recorder's webhooks (Standard Webhooks): verifies the signature with the stock library and
// refuses events whose timestamp is more than 5 minutes away (replays). De-duplicate by `webhook-id`: a delivery
// can be retried after a timeout that reached you.
//
//   npm install standardwebhooks
//   WEBHOOK_SECRET=whsec_... node webhook-receiver.mjs      # listens on 127.0.0.1:9000
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Webhook } from 'standardwebhooks';

export function createReceiver(secret, onEvent) {
  const wh = new Webhook(secret);
  const seen = new Set(); // use a store with a TTL in production
  return createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let event;
      try {
        // throws on a bad signature, and on a timestamp older (or newer) than 5 minutes
        event = wh.verify(raw, {
          'webhook-id': String(req.headers['webhook-id'] ?? ''),
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        });
      } catch {
        res.statusCode = 400; // a 4xx is not retried
        return res.end();
      }
      const id = req.headers['webhook-id'];
      if (!seen.has(id)) {
        seen.add(id);
        onEvent(event); // { id, type: 'recording_available', data: { … the recording … } }
      }
      res.statusCode = 204;
      res.end();
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createReceiver(process.env.WEBHOOK_SECRET, (e) => console.log(e.type, e.data?.id)).listen(9000, '127.0.0.1');
}
