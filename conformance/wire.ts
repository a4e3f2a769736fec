/**
 * The kit's raw TCP side: an exchange is a recording (what the client sent
 * and when, what came back, who half-closed), played back over a real
 * socket, whole, in 1-byte segments, or cut off by a reset. How each
 * exchange ended is kept, so a report says "reset" where there was a reset.
 *
 * @module
 */

import { connect as nodeConnect } from "node:net";
import { quote, seconds } from "./why.ts";

/** One step of an exchange: bytes one way, or that side's end of stream. */
export interface WireEvent {
  /** `up`: client to server; `down`: server to client. */
  dir: "up" | "down";
  bytes?: Uint8Array;
  /** That side closed (a half-close when the other side goes on). */
  fin?: boolean;
  /** When it happened, from the start of the exchange. */
  atMs: number;
}

/** An exchange as it went, or as the kit wants it to go. */
export interface Recording {
  events: WireEvent[];
}

const encoder = new TextEncoder();
const toBytes = (b: Uint8Array | string) => typeof b === "string" ? encoder.encode(b) : b;

/**
 * A recording the kit writes itself: send `request`, maybe half-close, then
 * expect `reply` and (if `serverCloses`) the server's close.
 *
 * @example
 * ```ts
 * const rec = exchangeOf("hello", { halfClose: true, reply: "HELLO", serverCloses: true });
 * ```
 */
export function exchangeOf(
  request: Uint8Array | string,
  options: { halfClose?: boolean; reply?: Uint8Array | string; serverCloses?: boolean } = {},
): Recording {
  const events: WireEvent[] = [{ dir: "up", bytes: toBytes(request), atMs: 0 }];
  if (options.halfClose) events.push({ dir: "up", fin: true, atMs: 0 });
  if (options.reply !== undefined) {
    events.push({ dir: "down", bytes: toBytes(options.reply), atMs: 0 });
  }
  if (options.serverCloses) events.push({ dir: "down", fin: true, atMs: 0 });
  return { events };
}

/** All bytes one way, joined. */
export function bytesOf(rec: Recording, dir: "up" | "down"): Uint8Array {
  return concat(rec.events.filter((e) => e.dir === dir && e.bytes).map((e) => e.bytes!));
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** How a played-back exchange ended. */
export type End = "done" | "closed" | "reset" | "idle" | "refused" | "error";

/** What came back. */
export interface TalkResult {
  reply: Uint8Array;
  /** Bytes received (more than `reply` holds when over the limit). */
  received: number;
  end: End;
  /** The error, for `error`. */
  detail?: string;
  /** The idle limit it ran under. */
  idleMs: number;
}

/** Options for {@linkcode replay}. */
export interface ReplayOptions {
  /** Write every byte the client sends on its own, 1 ms apart. */
  split?: boolean;
  /** Give up when nothing arrives for this long while a reply is awaited (default 3 s). */
  idleMs?: number;
  /** Keep at most this many reply bytes (default 64 MiB). */
  limitBytes?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A recorded pause between two writes is kept, up to this long. */
const MAX_GAP_MS = 2000;

/**
 * Plays the client's side of `rec` against `port` and collects the
 * server's reply: the same writes with the same pauses (or 1-byte
 * segments), waiting for as many reply bytes as were recorded before the
 * client wrote again.
 *
 * @example
 * ```ts
 * const r = await replay(12000, exchangeOf("hi", { halfClose: true, serverCloses: true }));
 * ```
 */
export async function replay(
  port: number,
  rec: Recording,
  options: ReplayOptions = {},
): Promise<TalkResult> {
  const idleMs = options.idleMs ?? 3000;
  const limit = options.limitBytes ?? 64 * 1024 * 1024;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    const refused = error instanceof Deno.errors.ConnectionRefused;
    return { reply: new Uint8Array(), received: 0, end: refused ? "refused" : "error", idleMs };
  }
  conn.setNoDelay(true);
  const chunks: Uint8Array[] = [];
  let received = 0;
  let end: End | undefined;
  let detail: string | undefined;
  let closing = false;
  let lastByte = performance.now();
  let wake: (() => void) | undefined;
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          end = "closed";
          break;
        }
        if (received < limit) chunks.push(buf.slice(0, n));
        received += n;
        lastByte = performance.now();
        wake?.();
      }
    } catch (error) {
      // Once the kit closes the socket itself, the pending read's error says nothing.
      if (!closing && end === undefined) {
        end = error instanceof Deno.errors.ConnectionReset ? "reset" : "error";
        detail = error instanceof Error ? error.message : String(error);
      }
    }
    wake?.();
  })();
  /** Waits until `enough()`, the end of the stream, or `idleMs` without a byte. */
  const waitFor = async (enough: () => boolean): Promise<void> => {
    const start = performance.now();
    while (!enough() && end === undefined) {
      const quietFor = performance.now() - Math.max(lastByte, start);
      if (quietFor >= idleMs) {
        end = "idle";
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, idleMs - quietFor);
      });
      clearTimeout(timer);
      wake = undefined;
    }
  };
  let writable = true;
  const write = async (bytes: Uint8Array) => {
    try {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    } catch {
      // The server closed or reset: what it sent is still read below.
      writable = false;
    }
  };
  try {
    let expected = 0;
    let prev: WireEvent | undefined;
    for (const event of rec.events) {
      if (event.dir === "up" && writable && end !== "reset") {
        if (prev?.dir === "up" && event.bytes) {
          await sleep(Math.min(MAX_GAP_MS, Math.max(0, event.atMs - prev.atMs)));
        }
        if (event.fin) await conn.closeWrite().catch(() => {});
        else if (options.split) {
          for (const b of event.bytes!) {
            if (!writable) break;
            await write(new Uint8Array([b]));
            await sleep(1);
          }
        } else await write(event.bytes!);
      } else if (event.dir === "down") {
        if (event.fin) await waitFor(() => false);
        else {
          expected += event.bytes!.length;
          await waitFor(() => received >= expected);
        }
      }
      prev = event;
    }
  } finally {
    closing = true;
    try {
      conn.close();
    } catch { /* closed already */ }
    await reading;
  }
  return { reply: concat(chunks), received, end: end ?? "done", detail, idleMs };
}

/**
 * Says what came back, in words: "the connection was reset after 12
 * bytes", "no reply in 3 s", "5 bytes: \"HELLO\"".
 *
 * @example
 * ```ts
 * const r = { reply: new Uint8Array(), received: 0, end: "refused", idleMs: 3000 } as const;
 * describeTalk(r); // "the connection was refused"
 * ```
 */
export function describeTalk(r: TalkResult): string {
  const text = new TextDecoder().decode(r.reply.subarray(0, 200));
  const got = r.received === 0
    ? ""
    : `${r.received} byte${r.received === 1 ? "" : "s"} (${quote(text, 40)})`;
  switch (r.end) {
    case "refused":
      return "the connection was refused";
    case "reset":
      return r.received === 0
        ? "the connection was reset before any reply"
        : `${got}, then the connection was reset`;
    case "closed":
      return r.received === 0
        ? "the server closed the connection without a reply"
        : `${got}, then the server closed`;
    case "idle":
      return r.received === 0
        ? `no reply in ${seconds(r.idleMs)}`
        : `${got}, then nothing for ${seconds(r.idleMs)}`;
    case "error":
      return `the connection failed: ${r.detail}`;
    default:
      return got || "no reply";
  }
}

/** The kind of miss, for counting many exchanges: "reset", "refused", "wrong reply", ... */
export function missKind(r: TalkResult): string {
  switch (r.end) {
    case "refused":
      return "refused";
    case "reset":
      return "reset";
    case "idle":
      return r.received === 0 ? `no reply in ${seconds(r.idleMs)}` : "stalled mid-reply";
    case "closed":
      return r.received === 0 ? "closed without a reply" : "wrong reply";
    case "error":
      return "failed";
    default:
      return "wrong reply";
  }
}

/**
 * Counts kinds: `3 reset, 2 closed without a reply`.
 *
 * @example
 * ```ts
 * countKinds(["reset", "reset", "refused"]); // "2 reset, 1 refused"
 * ```
 */
export function countKinds(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(", ");
}

/**
 * Opens a connection and sends nothing, like a client that went silent.
 * `undefined` when the connection is refused.
 */
export async function silentClient(port: number): Promise<Deno.TcpConn | undefined> {
  try {
    return await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return undefined;
  }
}

/**
 * Connects, sends `bytes`, optionally waits for the first reply bytes, then
 * resets the connection (RST, not FIN), as a client that crashes or loses
 * its network does. Returns what happened, in words.
 */
export async function sendThenReset(
  port: number,
  bytes: Uint8Array,
  options: { awaitReply?: boolean; waitMs?: number } = {},
): Promise<string> {
  const socket = nodeConnect({ host: "127.0.0.1", port });
  let failure: string | undefined;
  socket.on("error", (e: Error) => (failure ??= e.message));
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  const within = <T>(p: Promise<T>, ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() =>
      clearTimeout(timer)
    );
  };
  try {
    const connected = await within(
      Promise.race([
        new Promise<boolean>((r) => socket.once("connect", () => r(true))),
        closed.then(() => false),
      ]),
      5000,
    );
    if (!connected) return `could not connect: ${failure ?? "no answer"}`;
    await within(new Promise<void>((r) => socket.write(bytes, () => r())), options.waitMs ?? 2000);
    if (options.awaitReply) {
      await within(
        Promise.race([new Promise<void>((r) => socket.once("data", () => r())), closed]),
        options.waitMs ?? 2000,
      );
    }
    return failure ? `the server had already ended it (${failure})` : "reset sent";
  } finally {
    if (!socket.destroyed) socket.resetAndDestroy();
    await closed;
  }
}
