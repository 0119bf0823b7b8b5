/**
 * Data shapes of `source: "websocket"` events (see docs/events.md, section
 * `websocket`): the messages of a connection that switched to WebSocket
 * after an HTTP/1.1 upgrade, what could not be decoded, and its end.
 */
import type { HttpRole, SslRefs } from '../types';
import type { WsMessageKind } from './frame';

/** Who sent a message. */
export type WsDirection = 'client_to_server' | 'server_to_client';

/** Fields of every websocket event: the connection and the upgrade request that opened it. */
export interface WebSocketBase {
  conn_id: string;
  /** Which side of the connection the traced process is (as in http events). */
  role: HttpRole;
  /** The upgrade request: its exchange number (`seq` of its http events), target and host. */
  http_seq: number;
  path: string;
  host: string | null;
  url: string | null;
  tid?: number;
}

/** `data.type === "message"`: one message (a data message, or a control frame), when its last frame is seen. */
export interface WebSocketMessageData extends WebSocketBase {
  type: 'message';
  /** 0-based number of the message on the connection, both directions counted. */
  index: number;
  direction: WsDirection;
  opcode: WsMessageKind;
  /** The payload (unmasked, decompressed): text when valid UTF-8, else base64; a close frame's reason. */
  data: string;
  data_encoding: 'utf8' | 'base64';
  /** Payload bytes after decompression (what could be decompressed when truncated). */
  size: number;
  /** Payload bytes on the wire, over all frames. */
  wire_size: number;
  frames: number;
  /** Sent with permessage-deflate. */
  compressed: boolean;
  /** Sent in more than one frame. */
  fragmented: boolean;
  /** `data` holds less than the message (bounds, lost bytes, decompression stopped). */
  truncated: boolean;
  /** Wire payload bytes not kept. */
  dropped_bytes: number;
  /** close frames: the status code (null when the frame has none). */
  close_code?: number | null;
  /** Why the payload could not be decompressed (data then holds what was). */
  decode_error?: string;
  /** The message ended before its last frame. */
  incomplete: boolean;
  incomplete_reason?: string;
  ssl: SslRefs;
}

/** `data.type === "parse_error"`: frames that break RFC 6455, lost bytes. */
export interface WebSocketParseErrorData extends WebSocketBase {
  type: 'parse_error';
  direction: WsDirection;
  /** The TLS call direction of the bytes ("WRITE/SEND" or "READ/RECV"). */
  function: string;
  kind: string;
  message: string;
  /** Byte offset in that direction's WebSocket stream (0 = the first byte after the 101 response). */
  offset: number;
  excerpt_hex: string;
  excerpt_text: string;
  /** That direction is not decoded any further. */
  fatal: boolean;
}

/** `data.type === "end"`: the connection is no longer followed. */
export interface WebSocketEndData extends WebSocketBase {
  type: 'end';
  /** `closed` (both close frames seen), `end_of_input`, `process_exit`, `idle_timeout`, `evicted`. */
  reason: string;
  messages: Record<WsDirection, number>;
  /** Directions whose decoding stopped early, and why. */
  stopped: Partial<Record<WsDirection, string>>;
  /** Bytes not decoded after decoding stopped. */
  ignored_bytes: number;
  /** permessage-deflate as negotiated, null when not in use. */
  deflate: { client_no_context_takeover: boolean; server_no_context_takeover: boolean; client_max_window_bits: number; server_max_window_bits: number } | null;
  /** Sec-WebSocket-Protocol as accepted. */
  protocol: string | null;
}

/** Any `source: "websocket"` event data. */
export type WebSocketEventData = WebSocketMessageData | WebSocketParseErrorData | WebSocketEndData;
