/**
 * What the HTTP parser does with what each direction's Http1Stream parses:
 * heads open messages (paired as requests or responses, and told how their
 * body is framed), bodies are accumulated and streamed, ends emit the
 * request/response events, and errors become parse_error events.
 */
import type { ParsedHead } from '../head';
import type { BodyFraming, StreamError, StreamSink } from '../stream';
import { mediaType } from '../util';
import { BodyStream } from './body-stream';
import { noteHeadBytes } from './connections';
import type { ParseContext } from './context';
import { bodyChunkData, parseErrorData, requestData, responseData, responseHeadersData, type MessageParts } from './events';
import { appendBody, bodyFraming, finalBody, grpcFields, isChunked, noteBodyHole, openMessage, rawFields, releaseMessage, touchRefs } from './message';
import { afterResponse, isInterim, pairResponse, queueRequest, requestEnded, responseEnded } from './pairing';
import type { Conn, Dir, DirState, Message, PendingRequest } from './state';

type Framing = BodyFraming | { error: string };

export class MessageAssembler {
  constructor(private readonly ctx: ParseContext) {}

  /** The receiver of direction `dir` of connection `c`. */
  sinkFor(c: Conn, dir: Dir, ds: DirState): StreamSink {
    return {
      onHead: (head, raw) => this.onHead(c, dir, ds, head, raw),
      onBody: (bytes) => {
        if (ds.msg) appendBody(this.ctx, ds.msg, bytes);
      },
      onEnd: (incomplete) => {
        const m = ds.msg;
        ds.msg = null;
        ds.startRefs = null;
        // Bytes left in this call begin the next message.
        if (ds.parser.bufferedBytes > 0) noteHeadBytes(this.ctx, ds);
        if (m) this.endMessage(c, m, incomplete);
      },
      onError: (err) => this.onError(c, dir, ds, err),
      onDiscard: (n) => {
        this.ctx.counters.bytes_discarded += n;
      },
      onBodyHole: (n) => {
        if (ds.msg) noteBodyHole(ds.msg, n);
      },
    };
  }

  /** Emit what a streamed body received since its last body_chunk event (`final`: all of it). */
  flushChunk(c: Conn, m: Message, final = false): void {
    const chunk = m.stream?.take(final);
    if (!chunk) return;
    const data = bodyChunkData(this.ctx.config, c, m, chunk);
    this.ctx.counters.body_chunks++;
    this.ctx.emit(c, data);
  }

  private onHead(c: Conn, dir: Dir, ds: DirState, head: ParsedHead, raw: Buffer): Framing {
    const m = openMessage(this.ctx, ds, head, raw);
    ds.msg = m;
    return head.kind === 'request' ? this.openRequest(c, dir, m) : this.openResponse(c, dir, m);
  }

  private openRequest(c: Conn, dir: Dir, m: Message): Framing {
    m.role = dir === 'write' ? 'client' : 'server';
    queueRequest(this.ctx, c, m);
    return bodyFraming(m.headers, { mode: 'none' });
  }

  /** Pair the response, decide its framing, and start streaming its body when its type (or chunking) says so. */
  private openResponse(c: Conn, dir: Dir, m: Message): Framing {
    m.role = dir === 'read' ? 'client' : 'server';
    if (isInterim(m.head)) {
      m.interim = true;
      return { mode: 'none' };
    }
    const { noBody } = pairResponse(c, m);
    const framing: Framing = noBody ? { mode: 'none' } : bodyFraming(m.headers, { mode: 'close' });
    if (!noBody && !('error' in framing) && this.streams(m)) {
      m.stream = new BodyStream(m.codings, this.ctx.config.maxBodyBytes);
      this.ctx.emit(c, responseHeadersData(c, m));
    }
    return framing;
  }

  /** Is this response body delivered incrementally too? (HTTP/2 bodies count as chunked.) */
  streams(m: Message): boolean {
    const { streamingTypes, streamChunked } = this.ctx.config;
    const type = mediaType(m.headers['content-type']);
    return (type !== null && streamingTypes.has(type)) || (streamChunked && (isChunked(m.headers) || m.streamId !== undefined));
  }

  /** A message ended (incomplete: why it was cut short): its request or response event. */
  endMessage(c: Conn, m: Message, incomplete: string | null): void {
    touchRefs(this.ctx, m);
    if (incomplete) this.ctx.counters.incomplete_messages++;
    if (m.interim) {
      this.ctx.counters.interim_responses++;
      releaseMessage(this.ctx, m);
      return;
    }
    if (m.stream) this.flushChunk(c, m, true);
    const body = finalBody(this.ctx, m, incomplete !== null);
    const raw = rawFields(m);
    const grpc = grpcFields(m, incomplete !== null);
    releaseMessage(this.ctx, m);
    const base: MessageParts = { c, m, incomplete, body, raw, grpc };
    if (m.head.kind === 'request') {
      this.ctx.counters.requests++;
      const req = m.request as PendingRequest;
      requestEnded(this.ctx, req);
      this.ctx.emit(c, requestData(req, base));
      return;
    }
    this.ctx.counters.responses++;
    responseEnded(this.ctx, c, m);
    this.ctx.emit(c, responseData(m, this.ctx.ns, base));
    afterResponse(this.ctx, c, m);
  }

  private onError(c: Conn, dir: Dir, ds: DirState, err: StreamError): void {
    this.ctx.counters.parse_errors++;
    this.ctx.emit(c, parseErrorData(c, dir, ds.msg, err));
  }
}
