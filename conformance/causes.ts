/**
 * The usual cause of a miss, in a student's terms: from what the kit sent
 * and what came back, the mistake that most often produces it (one
 * `recv()` taken as the whole message, a connection never closed,
 * `listen(1)`, a hard-coded port, a crash). Every reason the kit writes for
 * a FAIL or a WARN ends with one of these when one fits.
 *
 * @module
 */

import type { TalkResult } from "./wire.ts";
import { lastLines } from "./why.ts";

/** Sizes students pass to one `recv()`: a reply cut at one of these was read once. */
const RECV_SIZES = [512, 1024, 1500, 2048, 4096, 8192, 16384, 32768, 65536];

/**
 * The `recv()` size a cut reply suggests: the reply's length when it is one
 * of the sizes students pass to `recv()`, else `undefined`.
 *
 * @example
 * ```ts
 * recvSize(1024, 2000); // 1024
 * recvSize(700, 2000); // undefined
 * ```
 */
export function recvSize(got: number, expected: number): number | undefined {
  return got < expected && RECV_SIZES.includes(got) ? got : undefined;
}

/**
 * Why a server's reply came back shorter than the message it was sent: one
 * `recv()` taken as the whole message, and, when the connection was reset
 * after it, the unread rest of the message.
 *
 * @example
 * ```ts
 * const r = { reply: new Uint8Array(1024), received: 1024, end: "reset", idleMs: 3000, sent: 2000, halfClosed: true } as const;
 * cutReplyCause(r, 2000); // "usual cause: one recv(1024) taken as the whole message ..."
 * ```
 */
export function cutReplyCause(r: TalkResult, expected: number): string | undefined {
  if (r.received >= expected || r.received === 0) return undefined;
  const size = recvSize(r.received, expected);
  const once = size
    ? `one recv(${size}) taken as the whole message`
    : "one recv() taken as the whole message";
  const reset = r.end === "reset"
    ? "; closing a socket with the rest of the message unread makes the kernel reset the connection"
    : "";
  return `usual cause: ${once}: TCP may deliver a message in pieces, and recv() returns what has arrived, at most its size; read until the message is whole (here: until recv() returns b'', the client's half-close)${reset}`;
}

/**
 * Why a reply to a message sent one byte per segment is wrong: the server
 * answered the first piece it read.
 *
 * @example
 * ```ts
 * segmentsCause(1, 23); // "usual cause: one recv() taken as the whole message ..."
 * ```
 */
export function segmentsCause(got: number, sent: number): string {
  return got > 0 && got < sent
    ? `usual cause: one recv() taken as the whole message: it answered the first ${got} byte${
      got === 1 ? "" : "s"
    } it read; read until the message is whole`
    : "usual cause: one recv() taken as the whole message; read until the message is whole";
}

/**
 * The connection stayed open after the whole reply.
 *
 * @example
 * ```ts
 * neverClosedCause("ours does"); // "usual cause: the connection is never closed ..."
 * ```
 */
export function neverClosedCause(who = "the handout's client"): string {
  return `usual cause: the connection is never closed: call close() on the connection after sending the reply; a client that reads until the server closes (${who}) waits for ever`;
}

/** A server that serves one client at a time: a silent client blocks the rest. */
export const ONE_AT_A_TIME =
  "usual cause: it serves one client at a time (accept(), recv(), send(), close(), then the next accept()), so one silent or slow client blocks everyone; serve each connection in a thread of its own, or with select()";

/**
 * A small `listen()` backlog.
 *
 * @example
 * ```ts
 * backlogCause(1, 20); // "usual cause: listen(1): ..."
 * ```
 */
export function backlogCause(backlog: number, clients: number): string {
  // Python's socketserver listens with its request_queue_size, 5, without a listen() in sight.
  const socketserver = backlog === 5
    ? " (or socketserver's default request_queue_size = 5: set a larger one on the class)"
    : "";
  return `usual cause: listen(${backlog})${socketserver}: at most ${
    backlog + 1
  } connections wait for accept(), so of ${clients} clients arriving together the kernel drops the rest (they retry after 1 s) or resets them; pass a larger backlog, e.g. listen(128)`;
}

/**
 * A server that listens on another port than the one it was given.
 *
 * @example
 * ```ts
 * hardCodedPortCause([12000], 23456); // "usual cause: a hard-coded port: it listens on 12000 ..."
 * ```
 */
export function hardCodedPortCause(ports: number[], given: number): string {
  const list = ports.join(", ");
  return `usual cause: a hard-coded port: it listens on ${list}, not on ${given}, the port the kit gave it in {port}; read the port from the command line, or run the kit with --port ${
    ports[0]
  } (and no {port})`;
}

/**
 * A client whose connection was refused: it connected to another port.
 *
 * @example
 * ```ts
 * refusedClientCause("ConnectionRefusedError: [Errno 111] Connection refused"); // "usual cause: ..."
 * ```
 */
export function refusedClientCause(stderr: string): string | undefined {
  if (!/connection ?refused|ECONNREFUSED|errno 111\b/i.test(stderr)) return undefined;
  return "usual cause: a hard-coded port or host: its connection was refused, so it connected somewhere the kit's server is not; read the server's port from the command line ({port}), or run the kit with --port N";
}

/**
 * A program that crashed: how it exited and the last lines of its stderr.
 *
 * @example
 * ```ts
 * crashText({ code: 1, signal: null, success: false }, "Traceback ...\nValueError: x\n");
 * // "it crashed (exit code 1); stderr: Traceback ... | ValueError: x"
 * ```
 */
export function crashText(status: Deno.CommandStatus, stderr: string, stdout = ""): string {
  const how = status.signal
    ? `killed by signal ${status.signal}`
    : status.code === 0
    ? "it exited (code 0)"
    : `it crashed (exit code ${status.code})`;
  const tail = lastLines(stderr);
  const out = tail
    ? `; stderr: ${tail}`
    : lastLines(stdout)
    ? `; nothing on stderr, stdout: ${lastLines(stdout)}`
    : "; it printed nothing";
  return `${how}${out}`;
}
