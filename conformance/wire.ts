/**
 * The kit's raw TCP side: an exchange is a recording (what the client sent
 * and when, what came back, who half-closed), played back over a real
 * socket, whole, in 1-byte segments, or cut off by a reset. How each
 * exchange ended, and when, is kept, so a report says "reset after 3 ms"
 * where there was a reset. Every wait is bounded: the connect, each reply,
 * the server's close.
 *
 * @module
 */

import { connect as nodeConnect, Socket } from "node:net";
import { type GroupWatch, hasProcNet, serverEnd, TCP } from "./net.ts";
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

/**
 * How a played-back exchange ended: `done` (the whole reply, and no close
 * was awaited), `closed` (the server closed), `open` (the whole reply came
 * but the server did not close), `reset`, `idle` (the reply stopped short),
 * `refused`, `unaccepted` (the connection was not set up in time: nothing
 * calls `accept()` and its queue is full), `error`.
 */
export type End =
  | "done"
  | "closed"
  | "open"
  | "reset"
  | "idle"
  | "refused"
  | "unaccepted"
  | "error";

/** What came back, and when. */
export interface TalkResult {
  reply: Uint8Array;
  /** Bytes received (more than `reply` holds when over the limit). */
  received: number;
  end: End;
  /** The error, for `error`. */
  detail?: string;
  /** The idle limit it ran under. */
  idleMs: number;
  /** Bytes the kit sent, and whether it half-closed after them. */
  sent: number;
  halfClosed: boolean;
  /** When the first reply byte came, from the connection's start. */
  firstByteMs?: number;
  /** When the server closed or reset the connection, from the start. */
  endMs?: number;
}

/** Options for {@linkcode replay}. */
export interface ReplayOptions {
  /**
   * Write every byte the client sends on its own, each once the server has
   * read the one before (so one `recv()` cannot get two of them): see
   * `reader`.
   */
  split?: boolean;
  /**
   * The server's processes, for `split`: each byte is written while they
   * are all asleep, and the next once they woke up and slept again.
   * Without it (no `/proc`), 1 ms apart.
   */
  reader?: GroupWatch;
  /** Give up when nothing arrives for this long while a reply is awaited (default 3 s). */
  idleMs?: number;
  /** Once the whole reply is in, wait this long for the server's close (default `idleMs`). */
  closeMs?: number;
  /** Give up on a connection not set up in this long (default 5 s). */
  connectMs?: number;
  /** Keep at most this many reply bytes (default 64 MiB). */
  limitBytes?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A recorded pause between two writes is kept, up to this long. */
const MAX_GAP_MS = 2000;
/** 1-byte segments: at most this long spent, in all, waiting for the server to read each byte. */
const SPLIT_WAIT_MS = 3000;

/**
 * Ports of servers that must keep no TIME_WAIT socket: a fixed `--port`,
 * which the same server binds again after a restart, the kit's own server
 * after it, and the next submission's. Reading the kernel's whole socket
 * table costs milliseconds on a busy machine, so only for these.
 */
const keptFree = new Set<number>();

/**
 * Marks a server's port as one to leave free of TIME_WAIT sockets (see
 * {@linkcode replay}), or no longer.
 *
 * @example
 * ```ts
 * keepPortFree(12000, true);
 * ```
 */
export function keepPortFree(port: number, on: boolean): void {
  if (on) keptFree.add(port);
  else keptFree.delete(port);
}

/**
 * Ends a connection the kit opened to the server under test. After the
 * server's own close (FIN), a close of ours would leave the server's end in
 * TIME_WAIT on its port for 60 s, and a server without SO_REUSEADDR could
 * not bind that port again (a restart, the next submission on a fixed
 * port). So when the kernel shows the server's end closed and released
 * (FIN_WAIT2, held by no process) the kit resets instead, which frees it at
 * once. Otherwise a plain close: a server still reading gets its end of
 * stream, not an error.
 */
function hangUp(socket: Socket, serverPort: number, localPort: number | undefined): void {
  if (socket.destroyed) return;
  if (!keptFree.has(serverPort) || !hasProcNet || localPort === undefined) {
    socket.destroy();
    return;
  }
  const end = serverEnd(serverPort, localPort);
  if (end && end.state === TCP.FIN_WAIT2 && end.inode === 0) socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Connects to `port` on loopback within `connectMs`: the socket, or how it
 * failed (`refused`, `unaccepted`, `error`).
 */
export async function connectTo(
  port: number,
  connectMs = 5000,
): Promise<Socket | { end: "refused" | "unaccepted" | "error"; detail?: string }> {
  const socket = nodeConnect({ host: "127.0.0.1", port, allowHalfOpen: true });
  socket.setNoDelay(true);
  // An error with no listener would throw in the kit: each user reads errors its own way.
  socket.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await new Promise<"ok" | "unaccepted" | Error>((resolve) => {
    socket.once("connect", () => resolve("ok"));
    socket.once("error", (e: Error) => resolve(e));
    timer = setTimeout(() => resolve("unaccepted"), connectMs);
  });
  clearTimeout(timer);
  if (outcome === "ok") return socket;
  socket.destroy();
  if (outcome === "unaccepted") return { end: "unaccepted" };
  const code = (outcome as Error & { code?: string }).code;
  return code === "ECONNREFUSED" ? { end: "refused" } : { end: "error", detail: outcome.message };
}

/**
 * Plays the client's side of `rec` against `port` and collects the
 * server's reply: the same writes with the same pauses (or 1-byte
 * segments), waiting for as many reply bytes as were recorded before the
 * client wrote again; then, if the recording has the server closing, for
 * its close. A reply is judged on its bytes: a server that never closes
 * ends `open`, with everything it sent.
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
  const closeMs = options.closeMs ?? idleMs;
  const limit = options.limitBytes ?? 64 * 1024 * 1024;
  const empty = { reply: new Uint8Array(), received: 0, idleMs, sent: 0, halfClosed: false };
  const connected = await connectTo(port, options.connectMs);
  if (!(connected instanceof Socket)) return { ...empty, ...connected };
  const socket = connected;
  const localPort = socket.localPort;
  const start = performance.now();
  const chunks: Uint8Array[] = [];
  let received = 0;
  let sent = 0;
  let halfClosed = false;
  let end: End | undefined;
  let detail: string | undefined;
  let firstByteMs: number | undefined;
  let endMs: number | undefined;
  let lastByte = start;
  let wake: (() => void) | undefined;
  const finish = (how: End, why?: string) => {
    if (end !== undefined) return;
    end = how;
    detail = why;
    endMs = performance.now() - start;
    wake?.();
  };
  socket.on("data", (data: Uint8Array) => {
    if (received === 0) firstByteMs = performance.now() - start;
    if (received < limit) chunks.push(new Uint8Array(data));
    received += data.length;
    lastByte = performance.now();
    wake?.();
  });
  socket.on("end", () => finish("closed"));
  socket.on("error", (e: Error & { code?: string }) => {
    if (e.code === "ECONNRESET") finish("reset");
    else if (e.code !== "EPIPE") finish("error", e.message);
    // EPIPE: the server closed while we wrote; its close or reset is read next.
  });
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  /** Waits until `enough()`, the end of the stream, or `limitMs` without a byte. */
  const waitFor = async (enough: () => boolean, limitMs: number): Promise<boolean> => {
    const begin = performance.now();
    while (!enough() && end === undefined) {
      const quietFor = performance.now() - Math.max(lastByte, begin);
      if (quietFor >= limitMs) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, limitMs - quietFor);
      });
      clearTimeout(timer);
      wake = undefined;
    }
    return enough();
  };
  const write = (bytes: Uint8Array) =>
    new Promise<void>((r) => {
      if (end !== undefined || socket.destroyed) return r();
      socket.write(bytes, () => r());
      sent += bytes.length;
    });
  let splitBudget = SPLIT_WAIT_MS;
  /** Writes one byte while the server waits, then waits until it has taken it (within the budget). */
  const writeAlone = async (byte: number) => {
    const reader = options.reader;
    const begin = performance.now();
    if (reader && splitBudget > 0) await reader.quiet(splitBudget);
    const before = reader?.state();
    await write(new Uint8Array([byte]));
    if (before && splitBudget > 0) {
      await reader!.reacted(
        before,
        Math.max(0, splitBudget - (performance.now() - begin)),
        () => end !== undefined,
      );
    } else if (!before) await sleep(1);
    splitBudget -= performance.now() - begin;
  };
  let awaitedClose = false;
  try {
    let expected = 0;
    let prev: WireEvent | undefined;
    for (const event of rec.events) {
      if (event.dir === "up" && end === undefined) {
        if (prev?.dir === "up" && event.bytes) {
          await sleep(Math.min(MAX_GAP_MS, Math.max(0, event.atMs - prev.atMs)));
        }
        if (event.fin) {
          socket.end();
          halfClosed = true;
        } else if (options.split) {
          for (const b of event.bytes!) {
            if (end !== undefined) break;
            await writeAlone(b);
          }
        } else await write(event.bytes!);
      } else if (event.dir === "down") {
        if (event.fin) {
          awaitedClose = true;
          await waitFor(() => false, expected > 0 && received >= expected ? closeMs : idleMs);
        } else {
          expected += event.bytes!.length;
          await waitFor(() => received >= expected, idleMs);
        }
        if (end === undefined && received < expected) finish("idle");
      }
      prev = event;
    }
  } finally {
    if (end === undefined && awaitedClose) {
      end = received > 0 ? "open" : "idle";
    }
    hangUp(socket, port, localPort);
    await closed;
  }
  return {
    reply: concat(chunks),
    received,
    end: end ?? "done",
    detail,
    idleMs,
    sent,
    halfClosed,
    firstByteMs,
    endMs,
  };
}

/** `3 ms`, `1.2 s`: when something happened. */
function at(ms: number | undefined): string {
  if (ms === undefined) return "";
  return ms < 1000 ? ` after ${Math.round(ms)} ms` : ` after ${seconds(ms)}`;
}

/**
 * Says what came back, in words, with when: "12 bytes after 3 ms
 * (\"HELLO\"), then the connection was reset after 4 ms", "no reply in
 * 3 s".
 *
 * @example
 * ```ts
 * const r = { reply: new Uint8Array(), received: 0, end: "refused", idleMs: 3000, sent: 0, halfClosed: false } as const;
 * describeTalk(r); // "the connection was refused"
 * ```
 */
export function describeTalk(r: TalkResult): string {
  const text = new TextDecoder().decode(r.reply.subarray(0, 200));
  const got = r.received === 0
    ? ""
    : `${r.received} byte${r.received === 1 ? "" : "s"}${at(r.firstByteMs)} (${quote(text, 40)})`;
  switch (r.end) {
    case "refused":
      return "the connection was refused";
    case "unaccepted":
      return "the connection was not set up within 5 s (nothing accepted it)";
    case "reset":
      return r.received === 0
        ? `the connection was reset${at(r.endMs)}, before any reply`
        : `${got}, then the connection was reset${at(r.endMs)}`;
    case "closed":
      return r.received === 0
        ? `the server closed the connection${at(r.endMs)} without a reply`
        : `${got}, then the server closed${at(r.endMs)}`;
    case "open":
      return `${got}, and the connection stayed open`;
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
    case "unaccepted":
      return "not accepted";
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
 * `undefined` when it cannot connect within `connectMs`.
 */
export async function silentClient(
  port: number,
  connectMs = 5000,
): Promise<Socket | undefined> {
  const socket = await connectTo(port, connectMs);
  return socket instanceof Socket ? socket : undefined;
}

/**
 * Closes a client of the kit's (see {@linkcode silentClient}) as a client
 * that hangs up does, and waits until it is closed.
 */
export async function hangUpClient(socket: Socket, serverPort: number): Promise<void> {
  if (socket.destroyed) return;
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  hangUp(socket, serverPort, socket.localPort);
  await closed;
}

/**
 * Connects, sends `bytes`, optionally waits for the first reply bytes, then
 * resets the connection (RST, not FIN), as a client that crashes or loses
 * its network does. Returns what happened, in words.
 */
export async function sendThenReset(
  port: number,
  bytes: Uint8Array,
  options: { awaitReply?: boolean; waitMs?: number; connectMs?: number } = {},
): Promise<string> {
  const connected = await connectTo(port, options.connectMs);
  if (!(connected instanceof Socket)) {
    return `could not connect: ${connected.end}${connected.detail ? ` (${connected.detail})` : ""}`;
  }
  const socket = connected;
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
