/**
 * LLM calls carried by the messages of a connection (a WebSocket): the
 * connection's API is told by its upgrade request (lib/providers:
 * detectWebSocket), and that API's transport says what each message is: a
 * request that asks for an answer, or an event of the answer, merged like a
 * streamed one. One call is answered at a time on a connection; the answer
 * ends with the stream's terminal event, an event the transport calls
 * final, the close of the connection, or a request that supersedes it.
 */
import type { Event } from '../core/event';
import { detectWebSocket, type Provider } from '../providers';
import type { SseEvent } from '../sse/parser';
import type { WebSocketEventData } from '../http/ws/types';
import { eventNs, msBetween } from '../http/util';

/** What the llm analyzer keeps of a call it follows. */
export interface OpenCall {
  /** The answer's events have shown it complete (a terminal event). */
  readonly terminal: boolean;
}

/** How a call's answer ended, besides its content. */
export interface CallOutcome {
  latency: number | null;
  ttfc: number | null;
  incomplete?: string;
}

/** What the llm analyzer does for the calls of a connection. */
export interface CallHost<C extends OpenCall> {
  /** Message event `e` asks `provider` for an answer: `body` as its request body. */
  open(e: Event, provider: Provider, body: unknown, link: { connId: string; httpSeq: number; index: number; host: string | null; path: string }): C;
  /** An event of the answer arrived with message event `e`. */
  merge(call: C, e: Event, ev: SseEvent): void;
  /** The answer ended (at event `at`): the llm event. */
  finish(at: Event, call: C, outcome: CallOutcome): Event;
}

interface Session<C> {
  provider: Provider | null;
  call: { c: C; reqNs: number; firstNs: number | null } | null;
}

export class MessageCalls<C extends OpenCall> {
  /** In least-recently-active order. */
  private readonly sessions = new Map<string, Session<C>>();
  /** Calls forgotten with their connection (beyond maxSessions). */
  droppedCalls = 0;

  constructor(
    private readonly host: CallHost<C>,
    private readonly maxSessions = 1024,
  ) {}

  /** Calls waiting for (the rest of) their answer. */
  get open(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.call) n++;
    return n;
  }

  /** Follow a websocket event; returns the llm events it completed. */
  onEvent(e: Event): Event[] {
    const d = e.data as WebSocketEventData;
    const out: Event[] = [];
    if (d.role === 'server') return out; // the traced process serves the API: its calls are its clients'
    const s = this.session(d);
    if (!s) return out;
    if (d.type === 'end') {
      this.end(s, e, d.reason, out);
      this.sessions.delete(d.conn_id);
      return out;
    }
    if (d.type === 'parse_error') {
      if (d.fatal) this.end(s, e, `websocket ${d.kind}`, out);
      return out;
    }
    if (d.opcode === 'close') return (this.end(s, e, 'closed', out), out);
    if ((d.opcode !== 'text' && d.opcode !== 'binary') || d.data_encoding !== 'utf8' || !s.provider?.websocket) return out;
    const text = d.data;
    let json: { v: unknown } | undefined;
    const meaning = s.provider.websocket.message({
      from: d.direction === 'client_to_server' ? 'client' : 'server',
      text,
      json: () =>
        (json ??= {
          v: (() => {
            try {
              return JSON.parse(text);
            } catch {
              return undefined;
            }
          })(),
        }).v,
    });
    if (!meaning) return out;
    if (meaning.kind === 'request') {
      this.end(s, e, 'superseded by the next request', out);
      const c = this.host.open(e, s.provider, meaning.body, { connId: d.conn_id, httpSeq: d.http_seq, index: d.index, host: d.host, path: d.path });
      s.call = { c, reqNs: eventNs(e), firstNs: null };
      return out;
    }
    const call = s.call;
    if (!call) return out;
    call.firstNs ??= eventNs(e);
    this.host.merge(call.c, e, meaning.event);
    if (call.c.terminal || meaning.final) {
      s.call = null;
      out.push(this.host.finish(e, call.c, this.outcome(call, e)));
    }
    return out;
  }

  /** The input ended: calls still open end incomplete. */
  finish(last: Event | undefined): Event[] {
    const out: Event[] = [];
    for (const s of this.sessions.values()) if (s.call && last) this.end(s, last, 'end_of_input', out);
    this.sessions.clear();
    return out;
  }

  /** The session of the connection an event is about (made active); null when it speaks no API with a WebSocket transport. */
  private session(d: WebSocketEventData): Session<C> | null {
    let s = this.sessions.get(d.conn_id);
    if (s) {
      this.sessions.delete(d.conn_id);
      this.sessions.set(d.conn_id, s);
      return s;
    }
    if (d.type === 'end') return null;
    const provider = detectWebSocket({ method: 'GET', path: d.path, host: d.host, json: () => undefined });
    if (this.sessions.size >= this.maxSessions) {
      const [oldest, old] = this.sessions.entries().next().value as [string, Session<C>];
      if (old.call) this.droppedCalls++;
      this.sessions.delete(oldest);
    }
    s = { provider, call: null };
    this.sessions.set(d.conn_id, s);
    return s;
  }

  private outcome(call: NonNullable<Session<C>['call']>, at: Event, incomplete?: string): CallOutcome {
    const end = eventNs(at);
    return {
      latency: msBetween(call.reqNs, end),
      ttfc: call.firstNs !== null ? msBetween(call.reqNs, call.firstNs) : null,
      ...(incomplete ? { incomplete } : {}),
    };
  }

  /** End the session's open call, if any, as incomplete. */
  private end(s: Session<C>, at: Event, why: string, out: Event[]): void {
    const call = s.call;
    if (!call) return;
    s.call = null;
    out.push(this.host.finish(at, call.c, this.outcome(call, at, why)));
  }
}
