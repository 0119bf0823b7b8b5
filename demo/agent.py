#!/usr/bin/env python3
"""A tiny tool-using LLM agent, standard library only.

It talks to the Anthropic Messages API or the OpenAI Chat Completions API over
HTTPS with urllib.request + ssl (so through the system's libssl), offers the
model one tool, `bash`, runs the command the model asks for with subprocess,
sends the output back and prints the model's final answer.

Configuration, as the official SDKs take it:
  ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY      (--provider anthropic)
  OPENAI_BASE_URL (with /v1), OPENAI_API_KEY (--provider openai)
  SSL_CERT_FILE / REQUESTS_CA_BUNDLE         extra CA to trust (e.g. the stand-in's)
  AGENT_PROVIDER, AGENT_STREAM=1|0, AGENT_MODEL  defaults for the options below

Usage: agent.py [--provider anthropic|openai] [--stream|--no-stream]
                [--model M] [--max-turns N] [--accept-encoding gzip|deflate]
                [--json] [PROMPT...]

Exit status 0 on success; 1 with a message on stderr on any error.
"""

import argparse
import gzip
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import zlib

DEFAULT_PROMPT = "What kernel is this machine running? run: uname -a"
USER_AGENT = "agentsight-demo-agent/1.0 (python urllib)"
BASH_TOOL_DESCRIPTION = "Run a shell command on this machine and return what it prints (stdout and stderr)."
COMMAND_SCHEMA = {
    "type": "object",
    "properties": {"command": {"type": "string", "description": "The command line to run with /bin/sh"}},
    "required": ["command"],
}


class AgentError(Exception):
    pass


def log(msg):
    print("agent: " + msg, file=sys.stderr, flush=True)


def ssl_context():
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()


def decode_body(resp, data):
    enc = (resp.headers.get("Content-Encoding") or "identity").lower()
    if enc == "gzip":
        return gzip.decompress(data)
    if enc == "deflate":
        return zlib.decompress(data)
    if enc == "identity":
        return data
    raise AgentError("unsupported Content-Encoding: " + enc)


def post(url, headers, body, ctx, stream, accept_encoding):
    data = json.dumps(body).encode("utf-8")
    h = {"content-type": "application/json", "user-agent": USER_AGENT}
    h["accept"] = "text/event-stream" if stream else "application/json"
    if accept_encoding and not stream:
        h["accept-encoding"] = accept_encoding
    h.update(headers)
    req = urllib.request.Request(url, data=data, headers=h, method="POST")
    try:
        return urllib.request.urlopen(req, context=ctx, timeout=60)
    except urllib.error.HTTPError as e:
        raw = decode_body(e, e.read())
        try:
            err = json.loads(raw)
            msg = (err.get("error") or {}).get("message") or raw.decode("utf-8", "replace")
        except ValueError:
            msg = raw.decode("utf-8", "replace")
        raise AgentError("HTTP %d from %s: %s" % (e.code, url, msg))
    except urllib.error.URLError as e:
        raise AgentError("cannot reach %s: %s" % (url, e.reason))


def sse_events(resp):
    """Yield (event, data) of a text/event-stream response as it arrives."""
    event, data = None, []
    for raw in resp:  # HTTPResponse yields lines (chunked transfer decoded)
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[6:] if line[5:6] == " " else line[5:])
    if data:
        yield event, "\n".join(data)


def run_command(command):
    log("running: " + command)
    p = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr, p.returncode


# -- Anthropic Messages -------------------------------------------------------

def anthropic_turn(args, ctx, messages):
    base = os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
    key = os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise AgentError("ANTHROPIC_API_KEY is not set")
    body = {
        "model": args.model or "claude-sonnet-4-6",
        "max_tokens": 1024,
        "tools": [{"name": "bash", "description": BASH_TOOL_DESCRIPTION, "input_schema": COMMAND_SCHEMA}],
        "messages": messages,
    }
    if args.stream:
        body["stream"] = True
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    with post(base + "/v1/messages", headers, body, ctx, args.stream, args.accept_encoding) as resp:
        if not args.stream:
            msg = json.loads(decode_body(resp, resp.read()))
            return msg["content"], msg["stop_reason"]
        blocks, partial, stop_reason = {}, {}, None
        for event, data in sse_events(resp):
            ev = json.loads(data)
            t = ev.get("type")
            if t == "error":
                raise AgentError("stream error: %s" % ev["error"].get("message"))
            if t == "content_block_start":
                blocks[ev["index"]] = dict(ev["content_block"])
                partial[ev["index"]] = ""
            elif t == "content_block_delta":
                d, b = ev["delta"], blocks[ev["index"]]
                if d["type"] == "text_delta":
                    b["text"] += d["text"]
                elif d["type"] == "thinking_delta":
                    b["thinking"] += d["thinking"]
                elif d["type"] == "signature_delta":
                    b["signature"] = d["signature"]
                elif d["type"] == "input_json_delta":
                    partial[ev["index"]] += d["partial_json"]
            elif t == "content_block_stop":
                b = blocks[ev["index"]]
                if b["type"] == "tool_use":
                    b["input"] = json.loads(partial[ev["index"]] or "{}")
            elif t == "message_delta":
                stop_reason = ev["delta"].get("stop_reason")
            elif t == "message_stop":
                break
        else:
            raise AgentError("stream ended without message_stop")
        return [blocks[i] for i in sorted(blocks)], stop_reason


def anthropic_agent(args, ctx, prompt, report):
    messages = [{"role": "user", "content": prompt}]
    for _ in range(args.max_turns):
        content, stop_reason = anthropic_turn(args, ctx, messages)
        messages.append({"role": "assistant", "content": content})
        calls = [b for b in content if b["type"] == "tool_use"]
        if stop_reason != "tool_use" or not calls:
            return "".join(b["text"] for b in content if b["type"] == "text")
        results = []
        for c in calls:
            output, code = run_command(c["input"]["command"])
            report["tool_calls"].append({"name": c["name"], "input": c["input"], "output": output, "exit_code": code})
            results.append({"type": "tool_result", "tool_use_id": c["id"], "content": output, "is_error": code != 0})
        messages.append({"role": "user", "content": results})
    raise AgentError("no final answer after %d turns" % args.max_turns)


# -- OpenAI Chat Completions ---------------------------------------------------

def openai_turn(args, ctx, messages):
    base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise AgentError("OPENAI_API_KEY is not set")
    body = {
        "model": args.model or "gpt-4o-mini",
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": "bash", "description": BASH_TOOL_DESCRIPTION, "parameters": COMMAND_SCHEMA}}],
    }
    if args.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    headers = {"authorization": "Bearer " + key}
    with post(base + "/chat/completions", headers, body, ctx, args.stream, args.accept_encoding) as resp:
        if not args.stream:
            choice = json.loads(decode_body(resp, resp.read()))["choices"][0]
            return choice["message"], choice["finish_reason"]
        msg = {"role": "assistant", "content": None}
        calls, finish = {}, None
        for _event, data in sse_events(resp):
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise AgentError("stream error: %s" % chunk["error"].get("message"))
            for ch in chunk.get("choices", []):
                d = ch.get("delta", {})
                if d.get("content"):
                    msg["content"] = (msg["content"] or "") + d["content"]
                for tc in d.get("tool_calls") or []:
                    c = calls.setdefault(tc["index"], {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                    if tc.get("id"):
                        c["id"] = tc["id"]
                    f = tc.get("function") or {}
                    c["function"]["name"] += f.get("name") or ""
                    c["function"]["arguments"] += f.get("arguments") or ""
                if ch.get("finish_reason"):
                    finish = ch["finish_reason"]
        else:
            raise AgentError("stream ended without [DONE]")
        if calls:
            msg["tool_calls"] = [calls[i] for i in sorted(calls)]
        return msg, finish


def openai_agent(args, ctx, prompt, report):
    messages = [{"role": "user", "content": prompt}]
    for _ in range(args.max_turns):
        msg, finish = openai_turn(args, ctx, messages)
        messages.append({k: v for k, v in msg.items() if k in ("role", "content", "tool_calls")})
        calls = msg.get("tool_calls") or []
        if finish != "tool_calls" or not calls:
            return msg.get("content") or ""
        for c in calls:
            inp = json.loads(c["function"]["arguments"] or "{}")
            output, code = run_command(inp["command"])
            report["tool_calls"].append({"name": c["function"]["name"], "input": inp, "output": output, "exit_code": code})
            messages.append({"role": "tool", "tool_call_id": c["id"], "content": output})
    raise AgentError("no final answer after %d turns" % args.max_turns)


def main():
    env_stream = os.environ.get("AGENT_STREAM", "1") not in ("0", "false", "no", "")
    ap = argparse.ArgumentParser(description="Tiny tool-using LLM agent (standard library only).")
    ap.add_argument("--provider", choices=["anthropic", "openai"], default=os.environ.get("AGENT_PROVIDER", "anthropic"))
    ap.add_argument("--stream", dest="stream", action="store_true", default=env_stream)
    ap.add_argument("--no-stream", dest="stream", action="store_false")
    ap.add_argument("--model", default=os.environ.get("AGENT_MODEL"))
    ap.add_argument("--max-turns", type=int, default=4)
    ap.add_argument("--accept-encoding", choices=["gzip", "deflate"], help="ask for a compressed non-streaming body")
    ap.add_argument("--json", action="store_true", help="print a JSON report instead of the bare answer")
    ap.add_argument("prompt", nargs="*")
    args = ap.parse_args()
    prompt = " ".join(args.prompt) or DEFAULT_PROMPT
    report = {"provider": args.provider, "stream": args.stream, "tool_calls": [], "final": None}
    try:
        ctx = ssl_context()
        agent = anthropic_agent if args.provider == "anthropic" else openai_agent
        report["final"] = agent(args, ctx, prompt, report)
    except (AgentError, KeyError, ValueError, OSError, subprocess.SubprocessError) as e:
        print("agent: error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print(json.dumps(report) if args.json else report["final"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
