/** Shapes shared by the secret finder's parts. */
import type { SecretKind } from './names';

export type { SecretKind };

/** A half-open range of characters to mask. */
export interface Range {
  start: number;
  end: number;
}

/** A secret found in a text: the characters to mask, and what it is. */
export interface Finding extends Range {
  kind: SecretKind;
  /** Characters before `start` kept as a hint of what was masked (`sk-ant-`), part of the secret. */
  hint?: number;
}

/**
 * A secret value that runs past the end of the text and continues in the
 * next piece (the next TLS call, the next body chunk), and what ends it.
 */
export type Open = OpenUntil & {
  /** Nothing of the value arrived yet: a `$VARIABLE` reference there is not a secret. */
  fresh?: boolean;
};

type OpenUntil =
  /** a header value: up to the line end, folded lines included */
  | { until: 'line'; kind: SecretKind }
  /** a JSON string at an escape depth (`quoteFirst`: its opening quote has not arrived yet) */
  | { until: 'json'; level: number; kind: SecretKind; quoteFirst?: boolean }
  /** a key-shaped token: while key characters follow */
  | { until: 'token'; kind: SecretKind; base64?: boolean }
  /** an unquoted value: up to a separator (or, `line`, the line end) */
  | { until: 'value'; line: boolean; kind: SecretKind }
  /** a value in quotes (one character, or escaped quotes such as `\"`) */
  | { until: 'quote'; quote: string; kind: SecretKind }
  /** URL userinfo cut before its `@` */
  | { until: 'userinfo'; kind: SecretKind }
  /** a PEM private key block: up to its END line */
  | { until: 'pem'; kind: SecretKind };

/** What a finder step found at a trigger: secrets, where to resume, and a secret left open at the end. */
export interface Hit {
  findings: Finding[];
  /** Resume scanning here. */
  next: number;
  open?: Open;
}
