
/**
 * Streaming parser for the `multipart/related` body of a JSON API multipart upload:
 *
 *   --B\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n--B\r\nContent-Type: <media type>\r\n\r\n<bytes>\r\n--B--
 *
 * The first part (metadata, small) is buffered; the second (media, any size) is written to `media` as it arrives,
 * so a 200 MB body never sits in memory (each chunk is awaited: backpressure reaches the socket).
 */
export interface MultipartResult {
  metadata: Record<string, unknown>;
  mediaContentType?: string;
}

const MAX_METADATA_BYTES = 1 << 20;

export class MultipartError extends Error {}

export async function parseMultipartRelated(
  body: AsyncIterable<Buffer>,
  boundary: string,
  media: (chunk: Buffer) => Promise<void>,
): Promise<MultipartResult> {
  // Prefixing CRLF makes the first delimiter look like every other one.
  const delim = Buffer.from(`\r\n--${boundary}`);
  let buf: Buffer = Buffer.from('\r\n');
  type Phase = 'preamble' | 'after-delim' | 'headers' | 'body' | 'done';
  let phase = 'preamble' as Phase;
  let part = -1;
  let metaChunks: Buffer[] = [];
  let metaBytes = 0;
  let mediaContentType: string | undefined;
  let headers: Record<string, string> = {};

  const emit = async (data: Buffer): Promise<void> => {
    if (data.length === 0) return;
    if (part === 0) {
      metaBytes += data.length;
      if (metaBytes > MAX_METADATA_BYTES) throw new MultipartError('metadata part too large');
      metaChunks.push(data);
    } else if (part === 1) {
      await media(data);
    } else {
      throw new MultipartError('unexpected extra part');
    }
  };

  const step = async (): Promise<boolean> => {
    switch (phase) {
      case 'preamble': {
        const i = buf.indexOf(delim);
        if (i < 0) {
          buf = buf.subarray(Math.max(0, buf.length - delim.length + 1));
          return false;
        }
        buf = buf.subarray(i + delim.length);
        phase = 'after-delim';
        return true;
      }
      case 'after-delim': {
        if (buf.length < 2) return false;
        const two = buf.subarray(0, 2).toString('latin1');
        if (two === '--') {
          phase = 'done';
          return false;
        }
        if (two !== '\r\n') throw new MultipartError('malformed delimiter line');
        buf = buf.subarray(2);
        part += 1;
        headers = {};
        phase = 'headers';
        return true;
      }
      case 'headers': {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) {
          if (buf.length > 16 * 1024) throw new MultipartError('part headers too large');
          return false;
        }
        for (const line of buf.subarray(0, i).toString('latin1').split('\r\n')) {
          const c = line.indexOf(':');
          if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        if (part === 1) mediaContentType = headers['content-type'];
        buf = buf.subarray(i + 4);
        phase = 'body';
        return true;
      }
      case 'body': {
        const i = buf.indexOf(delim);
        if (i >= 0) {
          await emit(buf.subarray(0, i));
          buf = buf.subarray(i + delim.length);
          phase = 'after-delim';
          return true;
        }
        const keep = delim.length - 1;
        if (buf.length > keep) {
          await emit(buf.subarray(0, buf.length - keep));
          buf = buf.subarray(buf.length - keep);
        }
        return false;
      }
      case 'done':
        return false;
    }
  };

  for await (const chunk of body) {
    if (phase === 'done') continue; // epilogue is ignored
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (await step()) {
      /* keep going */
    }
  }
  if (phase !== 'done') throw new MultipartError('body ended before the closing delimiter');
  if (part < 1) throw new MultipartError('expected a metadata part and a media part');
  let metadata: Record<string, unknown>;
  try {
    const text = Buffer.concat(metaChunks).toString('utf8');
    metadata = text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    throw new MultipartError('metadata part is not JSON');
  }
  metaChunks = [];
  return { metadata, mediaContentType };
}
