/**
 * UDP datagrams with a forged source address and port, sent through a raw
 * socket from Python: what an attacker does to aim a server's replies.
 * Needs python3 and a raw socket (root, or CAP_NET_RAW); IPv4 only.
 *
 * @module
 */

/** An IPv4 address and a port. */
export interface Endpoint {
  hostname: string;
  port: number;
}

// The raw socket is bound to the forged address, so the kernel writes it as the
// IP source; the 8-byte UDP header carries the forged port. Checksum 0: none (IPv4).
const PROGRAM = `
import socket, struct, sys
src, sport, dst, dport, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.bind((src, 0))
s.sendto(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, (dst, 0))
s.close()
`;

/**
 * Whether {@linkcode sendForged} can work here: python3 runs and may open a raw socket.
 *
 * @example
 * ```ts
 * const forge = await canForge();
 * ```
 */
export async function canForge(): Promise<boolean> {
  try {
    const out = await new Deno.Command("python3", {
      args: [
        "-c",
        "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP).close()",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Sends one datagram to `to` that claims to come from `from`.
 *
 * @example
 * ```ts
 * const to = { hostname: "127.0.0.1", port: 12000 };
 * await sendForged(to, to, new TextEncoder().encode("loop"));
 * ```
 */
export async function sendForged(
  from: Endpoint,
  to: Endpoint,
  payload: Uint8Array,
): Promise<void> {
  const hex = Array.from(payload, (b) => b.toString(16).padStart(2, "0")).join("");
  const out = await new Deno.Command("python3", {
    args: ["-c", PROGRAM, from.hostname, `${from.port}`, to.hostname, `${to.port}`, hex],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`forging failed: ${new TextDecoder().decode(out.stderr)}`);
}
