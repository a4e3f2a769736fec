/**
 * Every lab's checks, declared before anything runs: a stable id (the key
 * for `--weights`, CSV and HTML columns), the name a report shows, the
 * level, and which role it needs. A check is labelled `handout` only where
 * the handout's own programs pass it (tests/fairness_test.ts runs them);
 * everything the handout's programs get wrong is `beyond`.
 *
 * @module
 */

import type { Level } from "./report.ts";

/**
 * Whose program a check runs: their server (against the kit's clients),
 * their client (against the kit's server), or both as a pair.
 */
export type Role = "server" | "client" | "pair";

/** One check as a lab declares it. */
export interface CheckSpec {
  /** Stable key: `lab1.64k`, `lab1.client.prompt`. Never reused for another check. */
  id: string;
  /** What a report shows: `64 KB sentence`. */
  name: string;
  level: Level;
  role: Role;
  /** Ids that must pass first; otherwise this one is NOT_RUN, naming the one that did not. */
  needs?: string[];
  /**
   * Needs a port of the kit's own between the pair (its relay), so a client
   * fixed on one port (`--port N`, no `{port}`) rules it out: NOT_RUN, said so.
   */
  secondPort?: true;
}

/** A lab: its canonical name, aliases, whether both roles are needed, and its checks in order. */
export interface LabSpec {
  name: string;
  aliases: string[];
  /** Each student designs the wire format: give both roles. */
  pairOnly: boolean;
  checks: CheckSpec[];
}

/** The robustness checks' ids and names for a lab (`role`: whose server they probe). */
function robust(
  lab: string,
  role: Role,
  options: { segments?: string; clients?: number; secondPort?: true } = {},
): CheckSpec[] {
  const base = { level: "beyond" as const, role, ...(options.secondPort ? { secondPort } : {}) };
  return [
    { id: `${lab}.segments`, name: options.segments ?? "request in 1-byte segments", ...base },
    { id: `${lab}.silent`, name: "a silent client does not block others", ...base },
    { id: `${lab}.concurrent`, name: `${options.clients ?? 20} concurrent clients`, ...base },
    { id: `${lab}.reset`, name: "a client that resets mid-exchange", ...base },
  ];
}
const secondPort = true as const;

/** The two relay checks of a pair lab. */
function relay(lab: string): CheckSpec[] {
  return [
    {
      id: `${lab}.relay.split`,
      name: "pair through a relay: 1-byte segments",
      level: "beyond",
      role: "pair",
      secondPort,
    },
    {
      id: `${lab}.relay.coalesce`,
      name: "pair through a relay: writes coalesced",
      level: "beyond",
      role: "pair",
      secondPort,
    },
  ];
}

const starts = (lab: string, role: Role): CheckSpec => ({
  id: `${lab}.starts`,
  name: "server starts",
  level: "handout",
  role,
});

/**
 * The labs and their checks, in the order they run.
 *
 * @example
 * ```ts
 * LABS.lab1_echo.checks.find((c) => c.id === "lab1.64k")?.level; // "beyond"
 * ```
 */
export const LABS: Record<string, LabSpec> = {
  lab1_echo: {
    name: "lab1_echo",
    aliases: ["lab1", "echo"],
    pairOnly: false,
    checks: [
      starts("lab1", "server"),
      { id: "lab1.upper", name: "upper-case reply", level: "handout", role: "server" },
      {
        id: "lab1.closes",
        name: "closes the connection after the reply",
        level: "handout",
        role: "server",
      },
      {
        id: "lab1.our_client",
        name: "our client against it",
        level: "handout",
        role: "server",
        needs: ["lab1.closes"],
      },
      // The handout's server reads once (recv(1024)): a long sentence comes back cut.
      { id: "lab1.2k", name: "2 KB sentence", level: "beyond", role: "server" },
      { id: "lab1.64k", name: "64 KB sentence", level: "beyond", role: "server" },
      ...robust("lab1", "server", { segments: "sentence in 1-byte segments" }),
      { id: "lab1.client.reply", name: "client: reply printed", level: "handout", role: "client" },
      {
        id: "lab1.client.prompt",
        name: "client: prompt",
        level: "handout",
        role: "client",
        needs: ["lab1.client.reply"],
      },
    ],
  },
  lab2_sum: {
    name: "lab2_sum",
    aliases: ["lab2", "sum"],
    pairOnly: true,
    checks: [
      starts("lab2", "pair"),
      { id: "lab2.sum", name: "names and sum", level: "handout", role: "pair" },
      { id: "lab2.second", name: "a second client", level: "handout", role: "pair" },
      {
        id: "lab2.stop",
        name: "out-of-range number stops the server",
        level: "handout",
        role: "pair",
      },
      ...relay("lab2"),
      // Played back from a recording of their own client, made through the relay.
      ...robust("lab2", "pair", { secondPort }),
    ],
  },
  lab3_file: {
    name: "lab3_file",
    aliases: ["lab3", "file"],
    pairOnly: true,
    checks: [
      starts("lab3", "pair"),
      { id: "lab3.text", name: "text file (first client)", level: "handout", role: "pair" },
      { id: "lab3.binary", name: "binary file (second client)", level: "handout", role: "pair" },
      { id: "lab3.empty", name: "empty file (third client)", level: "handout", role: "pair" },
      { id: "lab3.20mb", name: "20 MB file", level: "handout", role: "pair" },
      {
        id: "lab3.missing.reported",
        name: "missing remote file: reported",
        level: "handout",
        role: "pair",
      },
      {
        id: "lab3.missing.no_file",
        name: "missing remote file: no file left behind",
        level: "beyond",
        role: "pair",
      },
      { id: "lab3.two_clients", name: "2 clients at once", level: "beyond", role: "pair" },
      ...relay("lab3"),
      ...robust("lab3", "pair", { secondPort }),
    ],
  },
  lab_udp: {
    name: "lab_udp",
    aliases: ["udp"],
    pairOnly: false,
    checks: [
      starts("udp", "server"),
      { id: "udp.reply", name: "reply", level: "handout", role: "server" },
      { id: "udp.1400", name: "1,400-byte datagram", level: "handout", role: "server" },
      { id: "udp.client.reply", name: "client: reply printed", level: "handout", role: "client" },
      {
        id: "udp.client.gives_up",
        name: "client: gives up when no server answers",
        level: "beyond",
        role: "client",
        // A client that cannot get a reply from a server that answers ends too: not giving up.
        needs: ["udp.client.reply"],
      },
    ],
  },
  lab_http: {
    name: "lab_http",
    aliases: ["http"],
    pairOnly: false,
    checks: [
      starts("http", "server"),
      { id: "http.file", name: "server: a file", level: "handout", role: "server" },
      { id: "http.404", name: "server: a 404", level: "handout", role: "server" },
      {
        id: "http.dotdot",
        name: "server: no file outside its folder via ..",
        level: "beyond",
        role: "server",
      },
      {
        id: "http.absolute",
        name: "server: no file outside its folder via an absolute path",
        level: "beyond",
        role: "server",
      },
      {
        id: "http.symlink",
        name: "server: symlink out of its folder",
        level: "beyond",
        role: "server",
      },
      { id: "http.dotfile", name: "server: dotfile", level: "beyond", role: "server" },
      { id: "http.redirect", name: "server: //host redirect", level: "beyond", role: "server" },
      ...robust("http", "server", { clients: 10 }),
      { id: "http.client.page", name: "client: small page", level: "handout", role: "client" },
      // The handout's client reads once (recv(1500)): longer bodies come out cut.
      {
        id: "http.client.binary",
        name: "client: 1 MB binary, byte-exact",
        level: "beyond",
        role: "client",
      },
      {
        id: "http.client.close",
        name: "client: body ended by close",
        level: "beyond",
        role: "client",
      },
      {
        id: "http.client.chunked",
        name: "client: chunked response",
        level: "beyond",
        role: "client",
      },
    ],
  },
};

/**
 * The canonical lab name for a name or alias, or `undefined`.
 *
 * @example
 * ```ts
 * labOf("lab1"); // "lab1_echo"
 * ```
 */
export function labOf(name: string): string | undefined {
  return Object.keys(LABS).find((k) => k === name || LABS[k].aliases.includes(name));
}

/**
 * A lab's checks in the order they run, without running anything; with
 * `roles`, only those the given roles take part in (a pair check needs
 * both). Empty for an unknown lab.
 *
 * @example
 * ```ts
 * checkSpecs("lab1").map((c) => c.id); // ["lab1.starts", "lab1.upper", ...]
 * checkSpecs("lab1_echo", { client: true }).length; // 2
 * ```
 */
export function checkSpecs(
  lab: string,
  roles?: { server?: boolean | string; client?: boolean | string },
): CheckSpec[] {
  const name = labOf(lab);
  if (!name) return [];
  const checks = LABS[name].checks;
  if (!roles) return [...checks];
  return checks.filter((c) =>
    c.role === "server"
      ? !!roles.server
      : c.role === "client"
      ? !!roles.client
      : !!roles.server && !!roles.client
  );
}

/**
 * The check with this id, in any lab.
 *
 * @example
 * ```ts
 * specOf("lab1.client.prompt")?.name; // "client: prompt"
 * ```
 */
export function specOf(id: string): CheckSpec | undefined {
  for (const lab of Object.values(LABS)) {
    const found = lab.checks.find((c) => c.id === id);
    if (found) return found;
  }
  return undefined;
}
