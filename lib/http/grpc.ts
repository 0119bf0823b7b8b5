/**
 * gRPC recognised in HTTP messages (application/grpc, application/grpc+proto,
 * application/grpc-web...): the body is a sequence of length-prefixed
 * messages (1 byte of flags, 4 bytes of length, the message), the method is
 * the path (/package.Service/Method), the outcome is in the trailers
 * (grpc-status, grpc-message), or in the headers of a trailers-only
 * response; gRPC-Web carries its trailers as a last frame with flag 0x80.
 * Messages are not decoded (their protobuf schema is not known): they are
 * counted and sized, and the body keeps their bytes.
 */

/** gRPC status codes by number (grpc/doc/statuscodes.md). */
const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

export interface GrpcInfo {
  /** `package.Service` and `Method` from the request path, null when the path is not of that form. */
  service: string | null;
  method: string | null;
  /** gRPC-Web (`application/grpc-web*`) rather than gRPC over HTTP/2. */
  web: boolean;
  /** Length-prefixed messages in the body (complete ones). */
  messages: number;
  /** Of those, messages with the compressed flag (coded with `encoding`). */
  compressed_messages: number;
  /** Bytes of the messages, without their 5-byte prefixes. */
  message_bytes: number;
  /** `grpc-encoding`, when sent. */
  encoding?: string;
  /** How the body's framing ended: `complete`; `cut` (the body ends inside a message, or was truncated or cut short: messages may be missing); `invalid` (a prefix with unknown flags: what follows is not counted). */
  framing: 'complete' | 'cut' | 'invalid';
  /** Responses: grpc-status as a number and its name, and grpc-message (percent-decoded), from trailers or a trailers-only response. */
  status?: number;
  status_name?: string;
  status_message?: string;
}

/** Is this content type gRPC or gRPC-Web? */
export function grpcKind(contentType: string | undefined): 'grpc' | 'grpc-web' | null {
  const t = /^\s*application\/(grpc(?:-web(?:-text)?)?)(?:[+;\s]|$)/i.exec(contentType ?? '');
  if (!t) return null;
  return t[1].toLowerCase() === 'grpc' ? 'grpc' : 'grpc-web';
}

/** `/package.Service/Method` → its two parts. */
export function grpcMethod(path: string | null | undefined): { service: string | null; method: string | null } {
  const m = /^\/([^/?#]+)\/([^/?#]+)$/.exec(path ?? '');
  return m ? { service: m[1], method: m[2] } : { service: null, method: null };
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * What a gRPC message says: `body` is its body as received (bytes of the
 * length-prefixed messages; gRPC-Web-text is base64 of them), `cut` when
 * the body is known to be incomplete, `trailers` and `headers` of the
 * message, `path` of its request.
 */
export function grpcInfo(
  kind: 'grpc' | 'grpc-web',
  contentType: string,
  body: Buffer,
  cut: boolean,
  headers: Readonly<Record<string, string>>,
  trailers: Readonly<Record<string, string>> | undefined,
  path: string | null | undefined,
  response: boolean,
): GrpcInfo {
  const bytes = /grpc-web-text/i.test(contentType) ? Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64') : body;
  const info: GrpcInfo = { ...grpcMethod(path), web: kind === 'grpc-web', messages: 0, compressed_messages: 0, message_bytes: 0, framing: 'complete' };
  if (headers['grpc-encoding']) info.encoding = headers['grpc-encoding'];
  let webTrailers: Record<string, string> | null = null;
  let at = 0;
  while (at < bytes.length) {
    if (at + 5 > bytes.length) {
      info.framing = 'cut';
      break;
    }
    const flags = bytes[at];
    const len = bytes.readUInt32BE(at + 1);
    const trailerFrame = info.web && (flags & 0x80) !== 0;
    if ((flags & ~(info.web ? 0x81 : 0x01)) !== 0) {
      info.framing = 'invalid';
      break;
    }
    if (at + 5 + len > bytes.length) {
      info.framing = 'cut';
      break;
    }
    const payload = bytes.subarray(at + 5, at + 5 + len);
    if (trailerFrame) {
      webTrailers = {};
      for (const line of payload.toString('latin1').split(/\r\n/)) {
        const i = line.indexOf(':');
        if (i > 0) webTrailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
    } else {
      info.messages++;
      info.message_bytes += len;
      if (flags & 0x01) info.compressed_messages++;
    }
    at += 5 + len;
  }
  if (cut && info.framing === 'complete') info.framing = 'cut';
  if (response) {
    const outcome = trailers?.['grpc-status'] !== undefined ? trailers : webTrailers?.['grpc-status'] !== undefined ? webTrailers : headers;
    const status = outcome['grpc-status'];
    if (status !== undefined && /^\d+$/.test(status.trim())) {
      info.status = Number(status.trim());
      info.status_name = STATUS_NAMES[info.status] ?? 'UNKNOWN_CODE';
      if (outcome['grpc-message'] !== undefined) info.status_message = percentDecode(outcome['grpc-message']);
    }
  }
  return info;
}
